// onnxruntime's fused inference ops (forward only: grad() fails on them, so training graphs
// never use them). Each is one node where the plain graph has five to twenty, registered by
// both runtimes we ship: onnxruntime-node's CPU EP and onnxruntime-web's WebGPU EP
// (contrib_ops/webgpu/webgpu_contrib_kernels.cc). Specs: ORT's docs/ContribOperators.md.
import type { Value } from './graph.ts';
import type { Graph } from './ops.ts';
import type { Dim } from './shape.ts';

const MS = 'com.microsoft';

/**
 * x / sqrt(mean(x²) + eps) · scale over the last axis, in float32 (stash_type 1). ORT registers
 * it in the ONNX domain (version 1), though no ONNX opset defines it.
 */
export function simplifiedLayerNorm(g: Graph, x: Value, scale: Value, epsilon: number): Value {
  return g.custom('SimplifiedLayerNormalization', [x, scale], [{ dtype: x.dtype, shape: x.shape }], [
    { name: 'axis', type: 'int', value: -1 },
    { name: 'epsilon', type: 'float', value: epsilon },
  ])[0]!;
}

/**
 * The residual add and the next norm in one node: sum = x + skip, normed = rms(sum) · gamma
 * (over the last axis). `sum` is output 3 (input_skip_bias_sum); outputs 1 and 2 (mean,
 * inv_std_var [.., 1]) are declared for their position only: nothing reads them.
 */
export function skipSimplifiedLayerNorm(g: Graph, x: Value, skip: Value, gamma: Value, epsilon: number): { normed: Value; sum: Value } {
  const type = { dtype: x.dtype, shape: x.shape };
  const stat = { dtype: 'float32' as const, shape: [...x.shape.slice(0, -1), 1] };
  const [normed, , , sum] = g.custom('SkipSimplifiedLayerNormalization', [x, skip, gamma], [type, stat, stat, type], [{ name: 'epsilon', type: 'float', value: epsilon }], MS);
  return { normed: normed!, sum: sum! };
}

export interface AttentionInputs {
  query: Value; // [B, T, H·hd], the rows of the T new tokens (BSNH)
  key: Value; // [B, T, KV·hd]
  value: Value; // [B, T, KV·hd]
  /** [B, KV, P, hd] each (BNSH); null: the first forward of a sequence, no cache yet. */
  past: { key: Value; value: Value } | null;
  /** int32 [B]: keys per row minus 1 (P + T − 1): where the new rows go and their positions. */
  seqlensK: Value;
  /** int32 []: P + T, the keys the longest row attends to. */
  totalLength: Value;
  /** [positions, hd / 2] each: cos and sin of pos·θ^(−2j/hd), j < hd/2 (rotate-half RoPE). */
  rotary: { cos: Value; sin: Value };
  /**
   * [hd] each: RMS-normalize every query and key head by these weights before the rotary (Qwen3's
   * q_norm / k_norm), inside the node. onnxruntime-web 1.31's WebGPU kernel only (inputs 14 and 15);
   * onnxruntime-node 1.30's CPU kernel refuses them. Absent: query and key come normed.
   */
  headNorm?: { query: Value; key: Value; epsilon: number };
}

/**
 * Causal grouped-query attention with RoPE and the KV cache in one node: rotates the new
 * queries and keys at positions P..P+T−1 (rotate_half, not interleaved), writes keys and
 * values after the past ones (in place when present and past are one buffer), and returns
 * softmax(q kᵀ/√hd + causal) v with query head h reading kv head h // (H / KV).
 */
export function groupQueryAttention(g: Graph, a: AttentionInputs, heads: number, kvHeads: number, headDim: number, presentLength: Dim) {
  const [batch, length] = a.query.shape;
  const present = { dtype: a.query.dtype, shape: [batch!, kvHeads, presentLength, headDim] };
  // position_ids, attention_bias, head_sink, k_scale and v_scale (9–13) unset before the norms.
  const norms = a.headNorm ? [null, null, null, null, null, a.headNorm.query, a.headNorm.key] : [];
  const [out, key, value] = g.custom(
    'GroupQueryAttention',
    [a.query, a.key, a.value, a.past?.key ?? null, a.past?.value ?? null, a.seqlensK, a.totalLength, a.rotary.cos, a.rotary.sin, ...norms],
    [{ dtype: a.query.dtype, shape: [batch!, length!, heads * headDim] }, present, present],
    [
      { name: 'num_heads', type: 'int', value: heads },
      { name: 'kv_num_heads', type: 'int', value: kvHeads },
      { name: 'do_rotary', type: 'int', value: 1 },
      { name: 'rotary_interleaved', type: 'int', value: 0 },
      ...(a.headNorm ? [{ name: 'qk_norm_epsilon', type: 'float' as const, value: a.headNorm.epsilon }] : []),
    ],
    MS,
  );
  return { out: out!, present: { key: key!, value: value! } };
}
