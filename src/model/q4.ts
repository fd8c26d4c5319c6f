// 4-bit weights in the layout of onnxruntime's MatMulNBits (bits 4, block_size 32) and
// GatherBlockQuantized (uint8 data, bits 4): a float32 matrix [N, K] (HF's [out, in]) quantized
// along K in blocks of 32, each block 16 bytes of two 4-bit codes (the earlier value in the low
// nibble) and one float32 scale; a code q stands for (q − 8)·scale, 8 being both ops' zero point
// when none is given, so no zero-point input exists. Symmetric around 0 with all 16 codes used: the
// block's largest magnitude m takes code 0 (−8·scale, the scale's sign chosen so), and the scale is
// the smallest that also fits the other side within +7·scale. Then no value is ever clipped, every
// error is at most |scale|/2, and |scale| ≤ max|x|/7 (= max|x|/8 when the other side reaches only
// 7/8 of m; llama.cpp's Q4_0 instead always takes m/8 and clips the other side at 7).
export const Q4_BLOCK = 32;
/** Bytes of one block's codes (MatMulNBits' blob_size). */
export const Q4_BLOB = Q4_BLOCK / 2;
/** The code of 0: MatMulNBits' and GatherBlockQuantized's default zero point at 4 bits. */
export const Q4_ZERO = 8;

export interface Q4Matrix {
  /** [N, K/32, 16] codes, low nibble first. */
  packed: Uint8Array;
  /** [N, K/32] one float32 scale per block. */
  scales: Float32Array;
}

/** Why [rows, cols] cannot be quantized in blocks along its rows (null: it can); `name` says which tensor. */
export function q4Refusal(name: string, dims: readonly number[]): string | null {
  if (dims.length !== 2) return `${name} [${dims.join(', ')}] is not a matrix`;
  if (dims[1]! % Q4_BLOCK !== 0) return `${name} [${dims.join(', ')}] has ${dims[1]} columns, not a multiple of the 4-bit block of ${Q4_BLOCK}`;
  return null;
}

function checkShape(name: string, rows: number, cols: number, length: number): void {
  const refusal = q4Refusal(name, [rows, cols]);
  if (refusal) throw new Error(`q4: ${refusal}`);
  if (length !== rows * cols) throw new Error(`q4: ${name} has ${length} values, [${rows}, ${cols}] needs ${rows * cols}`);
}

/**
 * Quantizes rows [0, rows) of `values` [rows, cols] into `out` from block `firstBlock` on (so a
 * tensor can be quantized a few rows at a time into one output). Scales are float32, as the ops
 * read them; codes are x/scale rounded half up (~8 ns a value on this machine's shared cores: Qwen3-0.6B's 596 M weights in ~5 s).
 */
export function quantizeQ4Into(out: Q4Matrix, firstBlock: number, values: Float32Array, rows: number, cols: number, name: string): void {
  checkShape(name, rows, cols, values.length);
  const blocks = (rows * cols) / Q4_BLOCK;
  if ((firstBlock + blocks) * Q4_BLOB > out.packed.length || firstBlock + blocks > out.scales.length) {
    throw new Error(`q4: ${name} rows need blocks [${firstBlock}, ${firstBlock + blocks}), the output holds ${out.scales.length}`);
  }
  const { packed, scales } = out;
  for (let b = 0; b < blocks; b++) {
    const at = b * Q4_BLOCK;
    let top = 0; // the largest value and the most negative one
    let bottom = 0;
    for (let j = at; j < at + Q4_BLOCK; j++) {
      const x = values[j]!;
      if (x > top) top = x;
      else if (x < bottom) bottom = x;
    }
    // The side of the largest magnitude takes code 0 (peak / scale = −8), the other fits in codes up to 15.
    const scale = top > -bottom ? -Math.fround(Math.max(top / 8, -bottom / 7)) : Math.fround(Math.max(-bottom / 8, top / 7));
    const inverse = scale === 0 ? 0 : 1 / scale;
    scales[firstBlock + b] = scale;
    const blob = (firstBlock + b) * Q4_BLOB;
    for (let j = 0; j < Q4_BLOCK; j += 2) {
      // x/scale is within [−8, 7] up to rounding, so +8.5 truncated is the code rounded half up; the min catches a hair over 7.
      const low = Math.min(15, (values[at + j]! * inverse + Q4_ZERO + 0.5) | 0);
      const high = Math.min(15, (values[at + j + 1]! * inverse + Q4_ZERO + 0.5) | 0);
      packed[blob + (j >> 1)] = low | (high << 4);
    }
  }
}

/** A whole matrix [rows, cols] as 4-bit blocks. */
export function quantizeQ4(values: Float32Array, rows: number, cols: number, name: string): Q4Matrix {
  checkShape(name, rows, cols, values.length);
  const blocks = (rows * cols) / Q4_BLOCK;
  const out = { packed: new Uint8Array(blocks * Q4_BLOB), scales: new Float32Array(blocks) };
  quantizeQ4Into(out, 0, values, rows, cols, name);
  return out;
}

/** The float32 values the ops compute with: (q − 8)·scale (the reference for tests and error estimates). */
export function dequantizeQ4(q: Q4Matrix, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  checkShape('dequantizeQ4', rows, cols, out.length);
  if (q.scales.length !== out.length / Q4_BLOCK || q.packed.length !== out.length / 2) {
    throw new Error(`q4: [${rows}, ${cols}] needs ${out.length / Q4_BLOCK} scales and ${out.length / 2} bytes, got ${q.scales.length} and ${q.packed.length}`);
  }
  for (let i = 0; i < out.length; i++) {
    const byte = q.packed[i >> 1]!;
    const nibble = i & 1 ? byte >> 4 : byte & 15;
    out[i] = Math.fround((nibble - Q4_ZERO) * q.scales[(i / Q4_BLOCK) | 0]!);
  }
  return out;
}
