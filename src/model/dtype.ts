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
  return f32BitsToF16(scratch.getUint32(0, true));
}

/** float32 bits → IEEE half bits, rounding to nearest even (f32ToF16 on the bit pattern). */
function f32BitsToF16(bits: number): number {
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

/**
 * Float32 values as float16 bits (nearest even), and where the first value past float16's range
 * became ±Infinity (−1: none), for a caller that must not upload one.
 */
export function toFloat16(values: Float32Array): { bits: Uint16Array; overflow: number } {
  const bits = Uint16Array.from(values, f32ToF16);
  return { bits, overflow: bits.findIndex((h, i) => (h & 0x7fff) === 0x7c00 && Number.isFinite(values[i])) };
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

/** A tensor's elements as stored, not yet widened: float32 values, or the bit patterns of f16/bf16. */
export type StoredValues = { dtype: 'F32'; data: Float32Array } | { dtype: 'F16' | 'BF16'; data: Uint16Array };

/** A tensor as read from a file, before it is widened and checked; `origin` names it in errors ("file: tensor name"). */
export type StoredTensor = StoredValues & { origin: string };

/** Stored bytes of `dtype` viewed as its elements (in place when aligned). */
export function storedValues(dtype: StoredDtype, bytes: Uint8Array): StoredValues {
  const width = dtypeBytes[dtype];
  const buffer = aligned(bytes, width);
  const offset = buffer === bytes.buffer ? bytes.byteOffset : 0;
  const count = bytes.byteLength / width;
  return dtype === 'F32' ? { dtype, data: new Float32Array(buffer, offset, count) } : { dtype, data: new Uint16Array(buffer, offset, count) };
}

/** Elements [begin, end) of `values`, a view. */
export const sliceStored = (values: StoredValues, begin: number, end: number): StoredValues =>
  values.dtype === 'F32' ? { dtype: values.dtype, data: values.data.subarray(begin, end) } : { dtype: values.dtype, data: values.data.subarray(begin, end) };

// Exponent bits of each stored type: all ones is NaN or ±Infinity, whatever the mantissa.
const exponentMask: Record<StoredDtype, number> = { F32: 0x7f800000, F16: 0x7c00, BF16: 0x7f80 };

let f16ToF32Bits: Uint32Array | null = null;
let bf16ToF16Bits: Uint16Array | null = null;
/** Every half's float32 bits (256 KB, made once): one load per element instead of f16ToF32's arithmetic. */
const f16Table = () => (f16ToF32Bits ??= Uint32Array.from({ length: 0x10000 }, (_, h) => (scratch.setFloat32(0, f16ToF32(h), true), scratch.getUint32(0, true))));
/** Every bfloat16's nearest half (128 KB, made once). */
const bf16Table = () => (bf16ToF16Bits ??= Uint16Array.from({ length: 0x10000 }, (_, h) => f32BitsToF16(h << 16)));

/**
 * Converts `n` stored elements `from[i]`, `from[i + step]`, … into `to[j]` on, as bit patterns;
 * returns the OR of (bits & mask) + lowest over them, which carries into the bit above the exponent
 * only for an all-ones exponent (NaN, ±Infinity): a check with no branch per element. One small
 * function per conversion, so that each loop sees one pair of array types (V8 keeps it fast).
 */
type Run<From, To> = (from: From, to: To, i: number, j: number, n: number, step: number, mask: number) => number;
const runs = {
  copy16: ((from, to, i, j, n, step, mask) => {
    let seen = 0;
    for (const end = j + n, lowest = mask & -mask; j < end; j++, i += step) seen |= ((to[j] = from[i]!) & mask) + lowest;
    return seen;
  }) as Run<Uint16Array, Uint16Array>,
  copy32: ((from, to, i, j, n, step, mask) => {
    let seen = 0;
    for (const end = j + n, lowest = mask & -mask; j < end; j++, i += step) seen |= ((to[j] = from[i]!) & mask) + lowest;
    return seen;
  }) as Run<Uint32Array, Uint32Array>,
  bf16ToF32: ((from, to, i, j, n, step, mask) => {
    let seen = 0;
    for (const end = j + n, lowest = mask & -mask; j < end; j++, i += step) {
      const h = from[i]!;
      seen |= (h & mask) + lowest;
      to[j] = h << 16;
    }
    return seen;
  }) as Run<Uint16Array, Uint32Array>,
  f16ToF32: ((from, to, i, j, n, step, mask) => {
    const table = f16Table();
    let seen = 0;
    for (const end = j + n, lowest = mask & -mask; j < end; j++, i += step) {
      const h = from[i]!;
      seen |= (h & mask) + lowest;
      to[j] = table[h]!;
    }
    return seen;
  }) as Run<Uint16Array, Uint32Array>,
  bf16ToF16: ((from, to, i, j, n, step, mask) => {
    const table = bf16Table();
    let seen = 0;
    for (const end = j + n, lowest = mask & -mask; j < end; j++, i += step) {
      const h = from[i]!;
      seen |= (h & mask) + lowest;
      to[j] = table[h]!;
    }
    return seen;
  }) as Run<Uint16Array, Uint16Array>,
  f32ToF16: ((from, to, i, j, n, step, mask) => {
    let seen = 0;
    for (const end = j + n, lowest = mask & -mask; j < end; j++, i += step) {
      const h = from[i]!;
      seen |= (h & mask) + lowest;
      to[j] = f32BitsToF16(h);
    }
    return seen;
  }) as Run<Uint32Array, Uint16Array>,
};

/**
 * `values` [rows, cols] converted into `out` — float32, or float16 bits (rounded to nearest even)
 * when `out` is a Uint16Array — as stored or, with `transpose`, as [cols, rows] in cache-sized
 * tiles: one pass over the stored bits, the only one a weight takes on the host. Returns whether
 * a value is NaN or ±Infinity, seen from its exponent bits on the way (nonFiniteError finds which).
 */
export function convertInto(out: Float32Array | Uint16Array, values: StoredValues, rows: number, cols: number, transpose: boolean): boolean {
  const count = rows * cols;
  if (out.length !== count || values.data.length !== count) {
    throw new Error(`convertInto: [${rows}, ${cols}] needs ${count} elements, got ${values.data.length} in and ${out.length} out`);
  }
  const half = out instanceof Uint16Array;
  const to = half ? out : new Uint32Array(out.buffer, out.byteOffset, count);
  const from = values.dtype === 'F32' ? new Uint32Array(values.data.buffer, values.data.byteOffset, count) : values.data;
  const run = (values.dtype === 'F32' ? (half ? runs.f32ToF16 : runs.copy32) : values.dtype === 'F16' ? (half ? runs.copy16 : runs.f16ToF32) : half ? runs.bf16ToF16 : runs.bf16ToF32) as Run<
    typeof from,
    typeof to
  >;
  const mask = exponentMask[values.dtype];
  let seen = 0;
  if (!transpose) seen = run(from, to, 0, 0, count, 1, mask);
  else {
    // Tiles of 32 × 32, each written a row of `out` at a time: the strided reads of a tile's
    // rows stay in cache, and contiguous writes run 6× faster than strided ones did (1.2 against
    // 7.9 ns an element at 3072 × 1024, tiles of 64 written a column at a time).
    const tile = 32;
    for (let r0 = 0; r0 < rows; r0 += tile) {
      const n = Math.min(rows, r0 + tile) - r0;
      for (let c0 = 0; c0 < cols; c0 += tile) {
        const c1 = Math.min(cols, c0 + tile);
        for (let c = c0; c < c1; c++) seen |= run(from, to, r0 * cols + c, c * rows + r0, n, cols, mask);
      }
    }
  }
  return (seen & (mask + (mask & -mask))) !== 0;
}

/** The error for a stored tensor holding NaN or ±Infinity (convertInto saw one): its first such element, as stored. */
export function nonFiniteError(tensor: StoredTensor): Error {
  const mask = exponentMask[tensor.dtype];
  const at = tensor.dtype === 'F32' ? firstNonFinite(tensor.data) : tensor.data.findIndex((h) => (h & mask) === mask);
  const value = tensor.dtype === 'F32' ? tensor.data[at] : (tensor.dtype === 'F16' ? f16ToF32 : bf16ToF32)(tensor.data[at]!);
  return new Error(`${tensor.origin} holds a non-finite value (${value}) at element ${at} of ${tensor.data.length}`);
}

/** Float32 values of a stored tensor (a view when already f32 and aligned); refuses NaN and ±Infinity naming the element. */
export function decodeChecked(tensor: StoredTensor): Float32Array {
  if (tensor.dtype === 'F32') {
    if (firstNonFinite(tensor.data) >= 0) throw nonFiniteError(tensor);
    return tensor.data;
  }
  const out = new Float32Array(tensor.data.length);
  if (convertInto(out, tensor, 1, out.length, false)) throw nonFiniteError(tensor);
  return out;
}

/** Stored bytes of `dtype` → Float32Array (a view when already f32 and aligned), unchecked. */
export function decodeTensor(dtype: StoredDtype, bytes: Uint8Array): Float32Array {
  const values = storedValues(dtype, bytes);
  if (values.dtype === 'F32') return values.data;
  const out = new Float32Array(values.data.length);
  convertInto(out, values, 1, out.length, false);
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
