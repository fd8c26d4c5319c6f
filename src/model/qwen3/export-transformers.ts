// Our Qwen3 decoder in the layout transformers.js runs as a decoder-only causal LM (what
// Optimum exports): weights baked in as initializers, inputs `input_ids`, `attention_mask`,
// `position_ids`, `past_key_values.N.key/value`, outputs `logits` and `present.N.key/value`.
// The layers are the same builder functions as decoder.ts, so both engines run the same math;
// only the RoPE tables and the mask are computed inside the graph instead of by the host.
// It exists to benchmark our generation loop against transformers.js' `generate`.
// B batch_size, T sequence_length (new tokens), P past tokens, S = P + T, D hidden, hd head_dim,
// V vocab, N table length (the most positions the graph accepts).
import { Graph, type Value } from '../../onnx/index.ts';
import { qwen3ConfigJson, type Qwen3Config } from '../config.ts';
import { loraTargets, projectionPath, projectionShape, type LoraTarget } from '../tensors.ts';
import { lmHead, qwen3Forward, type LayerWeights, type LoraInputs, type Qwen3Weights } from './forward.ts';
import { MASKED, ropeTables } from './inputs.ts';

export const TJS_INPUT_IDS = 'input_ids'; // int64 [B, T]
export const TJS_ATTENTION_MASK = 'attention_mask'; // int64 [B, S], 1 = real token
export const TJS_POSITION_IDS = 'position_ids'; // int64 [B, T]
export const TJS_LOGITS = 'logits'; // [B, T, V]: every position's, as Optimum and onnxruntime-genai's builder export them
export const tjsPastKey = (layer: number) => `past_key_values.${layer}.key`; // [B, KV, P, hd]
export const tjsPastValue = (layer: number) => `past_key_values.${layer}.value`;
export const tjsPresentKey = (layer: number) => `present.${layer}.key`; // [B, KV, S, hd]
export const tjsPresentValue = (layer: number) => `present.${layer}.value`;

export interface TransformersExportOptions {
  /** Length of the baked RoPE and position tables; positions ≥ this fail in Gather. */
  maxPositions?: number;
}

export const DEFAULT_MAX_POSITIONS = 4096;

/**
 * transformers.js' `dtype` option and the file it then loads from onnx/ (its dtype suffixes): fp32
 * the plain graph of this file, q4 and q4f16 the contrib-op graph of export-transformers-fused.ts.
 */
export const tjsModelFiles = { fp32: 'model.onnx', q4: 'model_q4.onnx', q4f16: 'model_q4f16.onnx' } as const;
export type TjsDtype = keyof typeof tjsModelFiles;
export const isTjsDtype = (s: string): s is TjsDtype => Object.hasOwn(tjsModelFiles, s);

function bakeWeights(g: Graph, c: Qwen3Config, weights: ReadonlyMap<string, Float32Array>): Qwen3Weights {
  const w = (name: string, dims: number[]): Value => {
    const data = weights.get(name);
    if (!data) throw new Error(`export-transformers: weight ${name} is missing`);
    return g.initializer(name, data, dims);
  };
  const embed = w('model.embed_tokens.weight', [c.vocabSize, c.hiddenSize]);
  const layers = Array.from({ length: c.numLayers }, (_, l): LayerWeights => {
    const prefix = `model.layers.${l}`;
    const proj = Object.fromEntries(loraTargets.map((t) => [t, w(`${projectionPath(l, t)}.weight`, projectionShape(c, t))]));
    return {
      inputNorm: w(`${prefix}.input_layernorm.weight`, [c.hiddenSize]),
      proj: proj as Record<LoraTarget, Value>,
      qNorm: w(`${prefix}.self_attn.q_norm.weight`, [c.headDim]),
      kNorm: w(`${prefix}.self_attn.k_norm.weight`, [c.headDim]),
      postNorm: w(`${prefix}.post_attention_layernorm.weight`, [c.hiddenSize]),
    };
  });
  const norm = w('model.norm.weight', [c.hiddenSize]);
  return { embed, layers, norm, lmHead: c.tieWordEmbeddings ? embed : w('lm_head.weight', [c.vocabSize, c.hiddenSize]) };
}

/** The base model's ONNX graph (no LoRA branches) with every weight as an initializer. */
export function buildTransformersDecoder(
  c: Qwen3Config,
  weights: ReadonlyMap<string, Float32Array>,
  options: TransformersExportOptions = {},
): Uint8Array {
  const maxPositions = options.maxPositions ?? DEFAULT_MAX_POSITIONS;
  const g = new Graph('qwen3-transformersjs');
  const ids = g.input(TJS_INPUT_IDS, 'int64', ['batch_size', 'sequence_length']);
  const mask = g.input(TJS_ATTENTION_MASK, 'int64', ['batch_size', 'total_sequence_length']);
  const positionIds = g.input(TJS_POSITION_IDS, 'int64', ['batch_size', 'sequence_length']);
  const past = Array.from({ length: c.numLayers }, (_, l) => ({
    key: g.input(tjsPastKey(l), 'float32', ['batch_size', c.numKvHeads, 'past_sequence_length', c.headDim]),
    value: g.input(tjsPastValue(l), 'float32', ['batch_size', c.numKvHeads, 'past_sequence_length', c.headDim]),
  }));

  // Integer ids only index tables (Gather): no int64 Cast or arithmetic on the GPU beyond shape
  // math, and the RoPE values are bit-identical to the host tables our session feeds.
  const positions = Array.from({ length: maxPositions }, (_, i) => i);
  const tables = ropeTables(positions, c.headDim, c.ropeTheta);
  const cosTable = g.initializer('rope.cos_table', tables.cos, [maxPositions, c.headDim]);
  const sinTable = g.initializer('rope.sin_table', tables.sin, [maxPositions, c.headDim]);
  const cos = g.unsqueeze(g.gather(cosTable, positionIds), [1]); // [B, 1, T, hd]
  const sin = g.unsqueeze(g.gather(sinTable, positionIds), [1]); // [B, 1, T, hd]

  // Additive mask as in HF: key s (cache index) is visible to new token t, at cache index
  // P + t = S − T + t, when s ≤ S − T + t and attention_mask[s] = 1; position_ids only feed RoPE.
  const index = g.initializer('mask.indices', Float32Array.from(positions), [maxPositions]);
  const total = g.slice(g.shape(mask), [1], [2]); // [1] = S
  const start = g.sub(total, g.slice(g.shape(ids), [1], [2])); // [1] = S − T = P
  const indices = (from: Value, dim: string) => g.custom('Slice', [index, from, total, g.ints([0])], [{ dtype: 'float32', shape: [dim] }])[0]!;
  const keyIndex = indices(g.ints([0]), 'total_sequence_length'); // [S]
  const queryIndex = g.unsqueeze(indices(start, 'sequence_length'), [1]); // [T, 1]
  const padding = g.unsqueeze(g.gather(g.constant(Float32Array.of(MASKED, 0), [2]), mask), [1]); // [B, 1, S]
  const bias = g.where(g.greater(keyIndex, queryIndex), MASKED, padding); // [B, T, S]

  const ctx = { cos, sin, bias: g.unsqueeze(bias, [1, 2]), past }; // bias [B, 1, 1, T, S] against scores [B, KV, G, T, S]
  const noLora: LoraInputs = { scale: g.scalar(0, 'float32'), layers: Array.from({ length: c.numLayers }, () => ({})) };
  const w = bakeWeights(g, c, weights);
  const { hidden, present } = qwen3Forward(g, c, w, noLora, ids, ctx); // [B, T, D]
  g.output(lmHead(g, w, hidden), TJS_LOGITS); // [B, T, V]
  present.forEach((p, l) => {
    g.output(p.key, tjsPresentKey(l));
    g.output(p.value, tjsPresentValue(l));
  });
  return g.toBytes();
}

/** config.json for transformers.js: the HF Qwen3 config, the graphs' position limit, `dtype` the one loaded when none is asked. */
export function transformersConfigJson(c: Qwen3Config, options: TransformersExportOptions = {}, dtype: TjsDtype = 'fp32'): Record<string, unknown> {
  return {
    ...qwen3ConfigJson(c, 'float32'),
    max_position_embeddings: Math.min(c.maxPositionEmbeddings, options.maxPositions ?? DEFAULT_MAX_POSITIONS),
    'transformers.js_config': { dtype },
  };
}

/** generation_config.json: Qwen3's stop tokens; greedy unless the caller samples. */
export function transformersGenerationConfigJson(c: Qwen3Config): Record<string, unknown> {
  return { bos_token_id: c.bosTokenId, eos_token_id: [151645, 151643], do_sample: false };
}
