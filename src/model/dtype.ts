// Element types of stored tensors and their conversion to and from Float32Array.
// Hosts are little-endian (every platform WebGPU and onnxruntime run on), as are safetensors and GGUF.

export type StoredDtype = 'F32' | 'F16' | 'BF16';

export const dtypeBytes: Record<StoredDtype, number> = { F32: 4, F16: 2, BF16: 2 };

const scratch = new DataView(new ArrayBuffer(4));

/** IEEE half bits → float. */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Float → IEEE half bits, rounding to nearest even (as numpy and torch do). */
export function f32ToF16(value: number): number {
  scratch.setFloat32(0, value, true);
  const bits = scratch.getUint32(0, true);
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // Subnormal half: shift the full mantissa (with its implicit 1) and round to nearest even.
    const full = mantissa | 0x800000;
    const shift = 14 - e;
    const half = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    const rounded = rest > midpoint || (rest === midpoint && half & 1) ? half + 1 : half;
    return sign | rounded;
  }
  const half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  const rounded = rest > 0x1000 || (rest === 0x1000 && half & 1) ? half + 1 : half;
  return sign | rounded;
}

/** bfloat16 bits → float. */
export function bf16ToF32(h: number): number {
  scratch.setUint32(0, h << 16, true);
  return scratch.getFloat32(0, true);
}

/** Float → bfloat16 bits, rounding to nearest even (NaN stays NaN). */
export function f32ToBf16(value: number): number {
  scratch.setFloat32(0, value, true);
  const bits = scratch.getUint32(0, true);
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x40;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** An aligned copy when `bytes` cannot be viewed as `width`-byte elements in place. */
function aligned(bytes: Uint8Array, width: number): ArrayBuffer {
  if (bytes.byteOffset % width === 0 && bytes.buffer instanceof ArrayBuffer) {
    return bytes.buffer;
  }
  return bytes.slice().buffer;
}

/** Stored bytes of `dtype` → Float32Array (a view when already f32 and aligned). */
export function decodeTensor(dtype: StoredDtype, bytes: Uint8Array): Float32Array {
  const count = bytes.byteLength / dtypeBytes[dtype];
  const width = dtypeBytes[dtype];
  const buffer = aligned(bytes, width);
  const offset = buffer === bytes.buffer ? bytes.byteOffset : 0;
  if (dtype === 'F32') return new Float32Array(buffer, offset, count);
  const halves = new Uint16Array(buffer, offset, count);
  const out = new Float32Array(count);
  if (dtype === 'BF16') {
    const outBits = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) outBits[i] = halves[i] << 16;
  } else {
    for (let i = 0; i < count; i++) out[i] = f16ToF32(halves[i]);
  }
  return out;
}

/** Float32Array → stored bytes of `dtype` (rounding to nearest even for f16/bf16). */
export function encodeTensor(dtype: StoredDtype, values: Float32Array): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(values.slice().buffer);
  const halves = new Uint16Array(values.length);
  const convert = dtype === 'BF16' ? f32ToBf16 : f32ToF16;
  for (let i = 0; i < values.length; i++) halves[i] = convert(values[i]);
  return new Uint8Array(halves.buffer);
}

/** Values as they survive a round trip through `dtype` (what a reader of the stored tensor sees). */
export function roundTo(dtype: StoredDtype, values: Float32Array): Float32Array {
  return dtype === 'F32' ? values : decodeTensor(dtype, encodeTensor(dtype, values));
}

/** Index of the first NaN or ±Infinity in `values`, or −1: one linear pass, as tensors stream in. */
export function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) {
    // v − v is 0 for every finite v and NaN for NaN and ±Infinity.
    if (values[i]! - values[i]! !== 0) return i;
  }
  return -1;
}
