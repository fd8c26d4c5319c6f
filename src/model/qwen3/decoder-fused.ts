// The fused inference graphs: the decoder of decoder.ts (same weight and LoRA inputs, same
// outputs) with onnxruntime's contrib ops (src/onnx/contrib.ts) where it runs chains of plain
// ops: one SimplifiedLayerNormalization per RMSNorm, the residual add folded into the next
// norm (SkipSimplifiedLayerNormalization), and attention, RoPE and the KV cache write in one
// GroupQueryAttention on [B, T, H·hd] rows (no head transposes). Inference only: training and
// scoring read the plain graphs (standard ops, grad() rules).
//
// Per run the graph takes seqlens_k and total_sequence_length instead of RoPE rows and a causal
// bias; the RoPE tables cover all positions and are uploaded once. Both graphs, a prompt's (any
// number of new tokens) and a decode step's (one), take past K/V [B, KV, P, hd], a preallocated
// cache fed as its own present (P its capacity), and GroupQueryAttention writes the new rows in
// place (fused-cache.ts). They differ in one node: the prompt's slices its last row for the LM
// head; the step's only row is the last, so each token runs no Slice, as a decode step of
// onnx-community's layout (logits of every row) runs none either.
//
// Under a q4f16 layout the activations are float16 (layout.ts vectorDtype), as in transformers.js'
// q4f16 models: the residual stream, the norms' inputs and weights, MatMulNBits' inputs and scales,
// the RoPE tables, the KV cache and the LoRA inputs (the norms and attention accumulate in float32
// inside the ops); the logits are cast to float32 once.
import { groupQueryAttention, simplifiedLayerNorm, skipSimplifiedLayerNorm } from '../../onnx/contrib.ts';
import { Graph, type Value } from '../../onnx/index.ts';
import type { Qwen3Config } from '../config.ts';
import { loraTargets } from '../tensors.ts';
import type { DecoderOptions } from './decoder.ts';
import { asType, declareLora, declareTokens, declareWeights, lmHead, mlp, noLora, outputLogits, project, vocabRows, type LayerWeights, type LoraInputs, type Projector, type Qwen3Weights } from './forward.ts';
import { vectorDtype, weightLayout, type WeightDtype } from './layout.ts';
import * as names from './names.ts';

interface Positions {
  seqlensK: Value; // int32 [B]
  totalLength: Value; // int32 []
  rotary: { cos: Value; sin: Value }; // [positions, hd / 2]
}

/** Every run is on the cache (fused-cache.ts), so there is no `past`: a run is a prompt's or, with `oneToken`, a decode step's. */
export interface FusedDecoderOptions extends Omit<DecoderOptions, 'past'> {
  /** The decode step's graph: input_ids [B, 1] (onnxruntime refuses more), no last-row Slice. */
  oneToken?: boolean;
  /**
   * Where q_norm / k_norm run: 'attention', inside GroupQueryAttention (its q_norm_weight /
   * k_norm_weight inputs: two dispatches fewer per layer, onnxruntime-web's WebGPU EP only), or
   * 'nodes', a SimplifiedLayerNormalization per head before it (every runtime; the default).
   */
  headNorm?: 'attention' | 'nodes';
}

/** a = rms(x)·w_in [B, T, D] → attention's output rows [B, T, H·hd] and this layer's present K/V. */
function attention(g: Graph, c: Qwen3Config, a: Value, w: LayerWeights, proj: Projector, at: Positions, past: { key: Value; value: Value }, inAttention: boolean) {
  const { numHeads: H, numKvHeads: KV, headDim: hd, rmsNormEps: eps } = c;
  const act = a.dtype as WeightDtype;
  const value = proj('v_proj', a); // [B, T, KV·hd]
  if (inAttention) {
    const headNorm = { query: asType(g, w.qNorm, act), key: asType(g, w.kNorm, act), epsilon: eps };
    return groupQueryAttention(g, { query: proj('q_proj', a), key: proj('k_proj', a), value, past, ...at, headNorm }, H, KV, hd, 'S');
  }
  // q_norm/k_norm per head before GroupQueryAttention's own RoPE, as Qwen3 orders them.
  const headNorm = (x: Value, n: number, weight: Value) =>
    g.reshape(simplifiedLayerNorm(g, g.reshape(x, [0, 0, n, hd]), asType(g, weight, act), eps), [0, 0, n * hd]); // [B, T, n·hd]
  const query = headNorm(proj('q_proj', a), H, w.qNorm);
  const key = headNorm(proj('k_proj', a), KV, w.kNorm);
  return groupQueryAttention(g, { query, key, value, past, ...at }, H, KV, hd, 'S');
}

/** Why `c` cannot run the fused graphs (null: it can). ORT checks it at the first run; this says it at load. */
export function fusedDecoderRefusal(c: Qwen3Config): string | null {
  // group_query_attention_helper.h CheckRotaryCaches, shared by the CPU and WebGPU kernels.
  return c.headDim % 16 === 0 ? null : `head_dim ${c.headDim} is not a multiple of 16, which GroupQueryAttention's rotary needs`;
}

/** A fused graph (a prompt's, or with `oneToken` a decode step's), serialized; buildDecoder's options and inputs' layout, and where the head norms run. */
export const buildFusedDecoder = (c: Qwen3Config, options: FusedDecoderOptions = {}): Uint8Array => fusedDecoderGraph(c, options).toBytes();

export function fusedDecoderGraph(c: Qwen3Config, options: FusedDecoderOptions = {}): Graph {
  const refusal = fusedDecoderRefusal(c);
  if (refusal) throw new Error(`buildFusedDecoder: ${refusal}; use decoder.ts's buildDecoder`);
  const layout = options.layout ?? weightLayout(c);
  const act = vectorDtype(layout.dtype);
  const g = new Graph('qwen3-fused-decode');
  const ids = declareTokens(g, layout, 'B', options.oneToken ? 1 : 'T');
  const kv = ['B', c.numKvHeads, 'P', c.headDim];
  const past = Array.from({ length: c.numLayers }, (_, l) => ({ key: g.input(names.pastKey(l), act, kv), value: g.input(names.pastValue(l), act, kv) }));
  const at: Positions = {
    seqlensK: g.input(names.SEQLENS_K, 'int32', ['B']),
    totalLength: g.input(names.TOTAL_SEQUENCE_LENGTH, 'int32', []),
    rotary: {
      cos: g.input(names.ROPE_COS_CACHE, act, ['R', c.headDim / 2]),
      sin: g.input(names.ROPE_SIN_CACHE, act, ['R', c.headDim / 2]),
    },
  };
  const w = declareWeights(g, c, layout, { transposed: true, half: true });
  const lora = options.lora === false ? noLora(c) : declareLora(g, c, loraTargets, null, null, true, act);
  const inAttention = options.headNorm === 'attention';
  const hidden = layers(g, c, w, lora, vocabRows(g, w.embed, ids, c.tieWordEmbeddings, act), { at, past, inAttention }, (l, p) => {
    g.output(p.key, names.presentKey(l)); // [B, KV, S, hd]
    g.output(p.value, names.presentValue(l));
  });
  // Only the last position's logits are read: a prompt slices the final norm's output, one Slice
  // where slicing the norm's two inputs would be two (the norm on all T rows costs next to nothing).
  const last = options.oneToken ? hidden : g.slice(hidden, [-1], [2 ** 31 - 1], [1]); // [B, 1, D]
  outputLogits(g, asType(g, lmHead(g, w, g.squeeze(last, [1]), options.head), 'float32'), options.pick); // [B, V] or [B]
  return g;
}

/**
 * The decoder layers on the embedded tokens x [B, T, D] → the final normed hidden states
 * [B, T, D]. Each norm after the first takes the residual add with it: the stream leaves a
 * SkipSimplifiedLayerNormalization as its `sum` beside the normed input of the next block.
 */
function layers(
  g: Graph,
  c: Qwen3Config,
  w: Qwen3Weights,
  lora: LoraInputs,
  embedded: Value,
  { at, past, inAttention }: { at: Positions; past: { key: Value; value: Value }[]; inAttention: boolean },
  present: (layer: number, kv: { key: Value; value: Value }) => void,
): Value {
  const eps = c.rmsNormEps;
  const norm = (weight: Value) => asType(g, weight, embedded.dtype as WeightDtype);
  let x = embedded; // the residual stream [B, T, D]
  let a = g.scope('layer0', () => simplifiedLayerNorm(g, x, norm(w.layers[0]!.inputNorm), eps)); // rms(x)·w_in
  for (let l = 0; l < c.numLayers; l++) {
    const layer = w.layers[l]!;
    const proj: Projector = (t, input) => project(g, input, layer.proj[t], w, lora.layers[l]![t], lora);
    const out = g.scope(`layer${l}`, () => {
      const attn = g.scope('attn', () => attention(g, c, a, layer, proj, at, past[l]!, inAttention));
      present(l, attn.present);
      const post = skipSimplifiedLayerNorm(g, proj('o_proj', attn.out), x, norm(layer.postNorm), eps); // mid = x + o
      const m = g.scope('mlp', () => mlp(g, post.normed, proj));
      return skipSimplifiedLayerNorm(g, m, post.sum, norm(l === c.numLayers - 1 ? w.norm : w.layers[l + 1]!.inputNorm), eps);
    });
    a = out.normed;
    x = out.sum;
  }
  return a;
}
