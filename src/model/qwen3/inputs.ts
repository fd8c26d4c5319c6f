// Host-side inputs of the Qwen3 graphs that are cheaper and more exact to compute once in JS
// than inside the graph: RoPE tables (float64 trig, no int64 Cast on the device) and the
// additive causal mask.

/** cos and sin of pos·θ^(−2j/hd), j < hd/2, duplicated to the full head_dim: each [positions.length, hd]. */
export function ropeTables(positions: readonly number[], headDim: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const cos = new Float32Array(positions.length * headDim);
  const sin = new Float32Array(positions.length * headDim);
  positions.forEach((pos, t) => {
    for (let j = 0; j < half; j++) {
      const angle = pos * Math.pow(theta, (-2 * j) / headDim);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[t * headDim + j] = cos[t * headDim + half + j] = c;
      sin[t * headDim + j] = sin[t * headDim + half + j] = s;
    }
  });
  return { cos, sin };
}

/** A large negative bias rather than −∞: exp underflows to exactly 0 and no inf − inf can appear. */
export const MASKED = -1e9;

/** [T, past + T]: query t (at position past + t) sees keys 0..past + t. */
export function causalBias(past: number, length: number): Float32Array {
  const keys = past + length;
  const bias = new Float32Array(length * keys);
  for (let t = 0; t < length; t++) for (let k = past + t + 1; k < keys; k++) bias[t * keys + k] = MASKED;
  return bias;
}
