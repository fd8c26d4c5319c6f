// transformers.js' best layout for our Qwen3: the decoder as onnx-community's `model_q4.onnx` /
// `model_q4f16.onnx` are built (onnxruntime-genai's model builder), weights baked in: every
// projection and the LM head a MatMulNBits over 4-bit blocks, the embedding rows read by
// GatherBlockQuantized, each RMSNorm a SimplifiedLayerNormalization with the residual add folded
// into the next (SkipSimplifiedLayerNormalization), and attention, RoPE and the cache append in one
// GroupQueryAttention, its seqlens_k and total_sequence_length made from attention_mask inside the
// graph (ReduceSum − 1, Shape). q4: float32 activations, scales and KV cache; q4f16: all float16
// (the norms and attention accumulate in float32 inside the ops). The 4-bit codes are quantizeQ4's,
// the blocks a weightDtype 'q4' Qwen3Session runs, so q4 is our q4 model exactly.
// q, k and v stay three MatMulNBits (the builder's newest version packs them and splits): in the
// bench onnxruntime-web 1.31 fused three with the norm before them (MatMulNBitsQkv), not a packed
// one. The q/k norm weights are initializers, which lets its WebGPU EP fold the head norms into
// GroupQueryAttention's rotary (bench/RESULTS.md "GPU work per decoded token").
// Inputs input_ids, attention_mask, past_key_values.N.key/value — no position_ids: GroupQueryAttention
// places a row's new tokens after its seqlens_k + 1 − T cached keys, so rows must not be left-padded.
// Outputs logits [B, T, V] (every position's, as the builder writes them: a decode step runs no
// Slice, a prompt pays the LM head on each row) and present.N.key/value.
// B batch_size, T sequence_length, P past_sequence_length, S = P + T, D hidden, hd head_dim, V vocab.
import { groupQueryAttention, simplifiedLayerNorm, skipSimplifiedLayerNorm } from '../../onnx/contrib.ts';
import { Graph, type Value } from '../../onnx/index.ts';
import type { Qwen3Config } from '../config.ts';
import { toFloat16 } from '../dtype.ts';
import { Q4_BLOB, Q4_BLOCK, q4Refusal, quantizeQ4 } from '../q4.ts';
import { projectionPath, projectionShape, type LoraTarget } from '../tensors.ts';
import { fusedDecoderRefusal } from './decoder-fused.ts';
import { DEFAULT_MAX_POSITIONS, TJS_ATTENTION_MASK, TJS_INPUT_IDS, TJS_LOGITS, tjsPastKey, tjsPastValue, tjsPresentKey, tjsPresentValue, type TransformersExportOptions } from './export-transformers.ts';
import { mlp, q4Rows, q4Times, type Projector, type Q4Weight } from './forward.ts';
import { ropeCache } from './inputs.ts';
import { EMBED, LM_HEAD } from './layout.ts';
import * as names from './names.ts';

/** The activations' (and scales', norms', KV cache's, logits') type: q4 or q4f16. */
export type Activations = 'float32' | 'float16';

const half = (values: Float32Array) => toFloat16(values).bits;

/** Weights as initializers: vectors in the activations' type, matrices as 4-bit blocks with scales of that type. */
function baker(g: Graph, weights: ReadonlyMap<string, Float32Array>, io: Activations) {
  const read = (name: string): Float32Array => {
    const data = weights.get(name);
    if (!data) throw new Error(`export-transformers-fused: weight ${name} is missing`);
    return data;
  };
  const vector = (name: string, dims: number[]) => (io === 'float16' ? g.initializer(name, half(read(name)), dims, 'float16') : g.initializer(name, read(name), dims));
  const matrix = (name: string, [n, k]: readonly number[]): Q4Weight => {
    const refusal = q4Refusal(name, [n!, k!]);
    if (refusal) throw new Error(`export-transformers-fused: ${refusal}`);
    const q = quantizeQ4(read(name), n!, k!, name);
    return {
      ...g.initializer(names.q4(name, 'packed'), q.packed, [n!, k! / Q4_BLOCK, Q4_BLOB], 'uint8'),
      scales: io === 'float16' ? g.initializer(names.q4(name, 'scales'), half(q.scales), [n!, k! / Q4_BLOCK], 'float16') : g.initializer(names.q4(name, 'scales'), q.scales, [n!, k! / Q4_BLOCK]),
    };
  };
  return { vector, matrix };
}


/** The ONNX graph transformers.js loads as `dtype: 'q4'` (float32 activations) or `'q4f16'` (float16). */
export function buildTransformersFusedDecoder(
  c: Qwen3Config,
  weights: ReadonlyMap<string, Float32Array>,
  io: Activations,
  options: TransformersExportOptions = {},
): Uint8Array {
  const refusal = fusedDecoderRefusal(c);
  if (refusal) throw new Error(`export-transformers-fused: ${refusal}; export dtype fp32 (the plain graph) instead`);
  const { numHeads: H, numKvHeads: KV, headDim: hd, rmsNormEps: eps, hiddenSize: D } = c;
  const maxPositions = options.maxPositions ?? DEFAULT_MAX_POSITIONS;
  const g = new Graph(`qwen3-transformersjs-${io === 'float16' ? 'q4f16' : 'q4'}`);
  const ids = g.input(TJS_INPUT_IDS, 'int64', ['batch_size', 'sequence_length']);
  const mask = g.input(TJS_ATTENTION_MASK, 'int64', ['batch_size', 'total_sequence_length']);
  const kv = ['batch_size', KV, 'past_sequence_length', hd];
  const past = Array.from({ length: c.numLayers }, (_, l) => ({ key: g.input(tjsPastKey(l), io, kv), value: g.input(tjsPastValue(l), io, kv) }));

  const at = {
    seqlensK: g.cast(g.sub(g.reduceSum(mask, [1]), 1), 'int32'), // [B] keys per row − 1
    totalLength: g.cast(g.gather(g.shape(mask), g.scalar(1, 'int64')), 'int32'), // [] S
    rotary: (() => {
      const cache = ropeCache(maxPositions, hd, c.ropeTheta);
      const table = (name: string, values: Float32Array) =>
        io === 'float16' ? g.initializer(name, half(values), [maxPositions, hd / 2], 'float16') : g.initializer(name, values, [maxPositions, hd / 2]);
      return { cos: table('cos_cache', cache.cos), sin: table('sin_cache', cache.sin) }; // [positions, hd/2]
    })(),
  };

  const { vector, matrix } = baker(g, weights, io);
  const embed = matrix(EMBED, [c.vocabSize, D]);
  const lmHead = c.tieWordEmbeddings ? embed : matrix(LM_HEAD, [c.vocabSize, D]);
  const projection = (l: number, t: LoraTarget) => matrix(`${projectionPath(l, t)}.weight`, projectionShape(c, t));
  const headNorm = (x: Value, n: number, weight: Value) => g.reshape(simplifiedLayerNorm(g, g.reshape(x, [0, 0, n, hd]), weight, eps), [0, 0, n * hd]); // [B, T, n·hd]

  let x = q4Rows(g, embed, ids); // the residual stream [B, T, D]
  let a = simplifiedLayerNorm(g, x, vector(`model.layers.0.input_layernorm.weight`, [D]), eps);
  for (let l = 0; l < c.numLayers; l++) {
    const prefix = `model.layers.${l}`;
    const out = g.scope(`layer${l}`, () => {
      const attn = g.scope('attn', () => {
        const query = headNorm(q4Times(g, a, projection(l, 'q_proj')), H, vector(`${prefix}.self_attn.q_norm.weight`, [hd]));
        const key = headNorm(q4Times(g, a, projection(l, 'k_proj')), KV, vector(`${prefix}.self_attn.k_norm.weight`, [hd]));
        const value = q4Times(g, a, projection(l, 'v_proj')); // [B, T, KV·hd]
        return groupQueryAttention(g, { query, key, value, past: past[l]!, ...at }, H, KV, hd, 'total_sequence_length');
      });
      g.output(attn.present.key, tjsPresentKey(l)); // [B, KV, S, hd]
      g.output(attn.present.value, tjsPresentValue(l));
      const post = skipSimplifiedLayerNorm(g, q4Times(g, attn.out, projection(l, 'o_proj')), x, vector(`${prefix}.post_attention_layernorm.weight`, [D]), eps);
      const proj: Projector = (t, input) => q4Times(g, input, projection(l, t));
      const m = g.scope('mlp', () => mlp(g, post.normed, proj));
      const nextNorm = vector(l === c.numLayers - 1 ? 'model.norm.weight' : `model.layers.${l + 1}.input_layernorm.weight`, [D]);
      return skipSimplifiedLayerNorm(g, m, post.sum, nextNorm, eps);
    });
    a = out.normed;
    x = out.sum;
  }
  g.output(q4Times(g, a, lmHead), TJS_LOGITS); // [B, T, V]
  return g.toBytes();
}
