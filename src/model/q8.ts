// ggml's Q8_0: blocks of 32 values along a row, each a float16 scale d = max|x| / 127 followed by
// 32 int8 values round(x / d) (34 bytes for 32 floats). Written as llama.cpp's reference quantizer
// does it, in float32, rounding halves away from zero (C's roundf).
import { f16ToF32, f32ToF16 } from './dtype.ts';

export const Q8_0_BLOCK = 32;
export const Q8_0_BLOCK_BYTES = 2 + Q8_0_BLOCK;

/** Bytes of `count` values as Q8_0 (count a multiple of 32). */
export function q8_0Bytes(count: number): number {
  return (count / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES;
}

export function encodeQ8_0(values: Float32Array): Uint8Array {
  if (values.length % Q8_0_BLOCK !== 0) throw new Error(`Q8_0: ${values.length} values is not a multiple of ${Q8_0_BLOCK}`);
  const out = new Uint8Array(q8_0Bytes(values.length));
  const view = new DataView(out.buffer);
  for (let block = 0, at = 0; block < values.length; block += Q8_0_BLOCK, at += Q8_0_BLOCK_BYTES) {
    let amax = 0;
    for (let j = 0; j < Q8_0_BLOCK; j++) amax = Math.max(amax, Math.abs(values[block + j]!));
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    view.setUint16(at, f32ToF16(d), true);
    for (let j = 0; j < Q8_0_BLOCK; j++) {
      const x = Math.fround(values[block + j]! * id);
      view.setInt8(at + 2 + j, Math.sign(x) * Math.round(Math.abs(x)));
    }
  }
  return out;
}

/** The values a Q8_0 reader sees (for tests and error estimates). */
export function decodeQ8_0(bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let block = 0, at = 0; block < count; block += Q8_0_BLOCK, at += Q8_0_BLOCK_BYTES) {
    const d = f16ToF32(view.getUint16(at, true));
    for (let j = 0; j < Q8_0_BLOCK; j++) out[block + j] = d * view.getInt8(at + 2 + j);
  }
  return out;
}
