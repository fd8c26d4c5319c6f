// Host-side inputs of the Qwen3 graphs that are cheaper and more exact to compute once in JS
// than inside the graph: RoPE tables (float64 trig, no int64 Cast on the device), per run's
// positions for the plain graphs and once for all positions for the fused one, and the
// additive causal mask.

/** RoPE's angle of position `pos` at frequency j < hd/2: pos·θ^(−2j/hd). */
const ropeAngle = (pos: number, j: number, headDim: number, theta: number) => pos * Math.pow(theta, (-2 * j) / headDim);

/** cos and sin of pos·θ^(−2j/hd), j < hd/2, duplicated to the full head_dim: each [positions.length, hd]. */
export function ropeTables(positions: readonly number[], headDim: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const cos = new Float32Array(positions.length * headDim);
  const sin = new Float32Array(positions.length * headDim);
  positions.forEach((pos, t) => {
    for (let j = 0; j < half; j++) {
      const angle = ropeAngle(pos, j, headDim, theta);
      cos[t * headDim + j] = cos[t * headDim + half + j] = Math.cos(angle);
      sin[t * headDim + j] = sin[t * headDim + half + j] = Math.sin(angle);
    }
  });
  return { cos, sin };
}

/** GroupQueryAttention's rotary tables for positions 0..length−1: cos and sin, each [length, hd/2] (not duplicated). */
export function ropeCache(length: number, headDim: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const cos = new Float32Array(length * half);
  const sin = new Float32Array(length * half);
  for (let pos = 0; pos < length; pos++) {
    for (let j = 0; j < half; j++) {
      const angle = ropeAngle(pos, j, headDim, theta);
      cos[pos * half + j] = Math.cos(angle);
      sin[pos * half + j] = Math.sin(angle);
    }
  }
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
