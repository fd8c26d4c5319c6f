// The one-pass conversion of stored weights (dtype.ts convertInto) against the element-wise
// definitions (f16ToF32, bf16ToF32, f32ToF16) for every 16-bit pattern, its blocked transpose
// against the index formula, and its non-finite check against every class of value.
import { describe, expect, it } from 'vitest';
import { bf16ToF32, convertInto, decodeChecked, f16ToF32, f32ToBf16, f32ToF16, nonFiniteError, type StoredValues } from './dtype.ts';

const everyPattern = Uint16Array.from({ length: 0x10000 }, (_, h) => h);
const bitsOf = (values: Float32Array) => new Uint32Array(values.buffer, values.byteOffset, values.length);
const isNaN16 = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;

describe('convertInto, element by element', () => {
  it.each([
    ['BF16', bf16ToF32],
    ['F16', f16ToF32],
  ] as const)('%s → float32 and → float16: every one of the 65,536 patterns as the element-wise definitions give it', (dtype, widen) => {
    const values: StoredValues = { dtype, data: everyPattern };
    const wide = new Float32Array(0x10000);
    const half = new Uint16Array(0x10000);
    convertInto(wide, values, 1, 0x10000, false);
    convertInto(half, values, 1, 0x10000, false);
    const wrong: string[] = [];
    let nans = 0;
    for (let h = 0; h < 0x10000; h++) {
      const want = widen(h);
      if (Number.isNaN(want)) {
        nans++;
        if (!Number.isNaN(wide[h]) || !isNaN16(half[h]!)) wrong.push(`${h}: NaN → ${wide[h]}, ${half[h]}`);
      } else if (bitsOf(wide)[h] !== bitsOf(Float32Array.of(want))[0] || half[h] !== f32ToF16(want)) {
        // Bit for bit: -0 stays -0, subnormals stay exact.
        wrong.push(`${h}: ${want} → ${wide[h]}, ${half[h]}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(nans).toBe(dtype === 'BF16' ? 2 * 127 : 2 * 1023);
  });

  it('float32 → float16 rounds as f32ToF16: ties to even, subnormals, overflow to infinity, signed zeros', () => {
    const samples = Float32Array.of(0, -0, 1, -1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 65520, 65519.99, 1e-8, 2 ** -24, 2 ** -25, 3 * 2 ** -26, -6e-5, 1e30, -1e30);
    const half = new Uint16Array(samples.length);
    convertInto(half, { dtype: 'F32', data: samples }, 1, samples.length, false);
    expect([...half]).toEqual([...samples].map(f32ToF16));
  });
});

describe('convertInto, transposed', () => {
  // Shapes that leave partial 32 × 32 tiles on both sides, a row, a column, and nothing.
  it.each([
    [70, 130],
    [1, 5],
    [130, 1],
    [64, 64],
    [0, 3],
  ])('[%i, %i] → [cols, rows] for every stored type and both outputs, as out[c·rows + r] = in[r·cols + c]', (rows, cols) => {
    const n = rows * cols;
    const wide = Float32Array.from({ length: n }, (_, i) => Math.sin(i + 1) * 3);
    const stored: StoredValues[] = [
      { dtype: 'F32', data: wide },
      { dtype: 'BF16', data: Uint16Array.from(wide, f32ToBf16) },
      { dtype: 'F16', data: Uint16Array.from(wide, f32ToF16) },
    ];
    for (const values of stored) {
      const flat = new Float32Array(n);
      const flatHalf = new Uint16Array(n);
      convertInto(flat, values, rows, cols, false);
      convertInto(flatHalf, values, rows, cols, false);
      const turned = new Float32Array(n);
      const turnedHalf = new Uint16Array(n);
      expect(convertInto(turned, values, rows, cols, true)).toBe(false);
      expect(convertInto(turnedHalf, values, rows, cols, true)).toBe(false);
      const wrong: string[] = [];
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          if (turned[c * rows + r] !== flat[r * cols + c] || turnedHalf[c * rows + r] !== flatHalf[r * cols + c]) wrong.push(`${values.dtype} (${r}, ${c})`);
        }
      }
      expect(wrong).toEqual([]);
      expect(flat.every((v, i) => Math.abs(v - wide[i]!) <= Math.abs(wide[i]!) * 2 ** -8)).toBe(true);
    }
  });

  it('refuses buffers that do not hold [rows, cols]', () => {
    expect(() => convertInto(new Float32Array(6), { dtype: 'BF16', data: new Uint16Array(5) }, 2, 3, true)).toThrow(
      'convertInto: [2, 3] needs 6 elements, got 5 in and 6 out',
    );
  });
});

describe('the non-finite check on the stored bits', () => {
  // Per type: the largest finite magnitude, +Infinity, -Infinity, a quiet NaN and a NaN with only the lowest mantissa bit.
  const cases = [
    ['BF16', [0x7f7f, 0xff7f, 0x0001, 0x8000], [0x7f80, 0xff80, 0x7fc0, 0x7f81]],
    ['F16', [0x7bff, 0xfbff, 0x0001, 0x8000], [0x7c00, 0xfc00, 0x7e00, 0x7c01]],
  ] as const;

  it.each(cases)('%s: finite extremes pass; each infinity and NaN is seen, wherever it is and in either direction', (dtype, finite, nonFinite) => {
    const rows = 70;
    const cols = 70;
    for (const transpose of [false, true]) {
      const data = new Uint16Array(rows * cols).fill(finite[0]);
      data.set(finite, 100);
      expect(convertInto(new Float32Array(data.length), { dtype, data }, rows, cols, transpose)).toBe(false);
      for (const bad of nonFinite) {
        for (const at of [0, 69, 70 * 64, data.length - 1]) {
          const hostile = data.slice();
          hostile[at] = bad;
          expect(convertInto(new Float32Array(data.length), { dtype, data: hostile }, rows, cols, transpose)).toBe(true);
          expect(convertInto(new Uint16Array(data.length), { dtype, data: hostile }, rows, cols, transpose)).toBe(true);
        }
      }
    }
  });

  it('float32: the largest finite value passes, ±Infinity and NaN are seen', () => {
    expect(convertInto(new Float32Array(2), { dtype: 'F32', data: Float32Array.of(3.4028234663852886e38, -3.4028234663852886e38) }, 1, 2, true)).toBe(false);
    for (const bad of [Infinity, -Infinity, NaN]) {
      expect(convertInto(new Uint16Array(3), { dtype: 'F32', data: Float32Array.of(1, bad, 2) }, 3, 1, true)).toBe(true);
    }
  });

  it('names the first non-finite element as stored (row-major), not the first the transposed walk meets', () => {
    // [128, 128]: the walk's first tile (rows 0–63, columns 0–63) holds element 128 (row 1, column 0);
    // element 127 (row 0, column 127) comes in a later tile but is first in the file.
    const data = new Uint16Array(128 * 128).fill(0x3f80);
    data[128] = 0x7fc0;
    data[127] = 0xff80;
    const tensor = { dtype: 'BF16' as const, data, origin: 'model.safetensors: tensor lm_head.weight' };
    expect(convertInto(new Float32Array(data.length), tensor, 128, 128, true)).toBe(true);
    expect(nonFiniteError(tensor).message).toBe('model.safetensors: tensor lm_head.weight holds a non-finite value (-Infinity) at element 127 of 16384');
  });

  it('decodeChecked refuses what it widens, naming the element, and returns a view of aligned float32', () => {
    const f16 = Uint16Array.of(0x3c00, 0x3c00, 0x7e00);
    expect(() => decodeChecked({ dtype: 'F16', data: f16, origin: 'a.safetensors: tensor x' })).toThrow('a.safetensors: tensor x holds a non-finite value (NaN) at element 2 of 3');
    expect([...decodeChecked({ dtype: 'F16', data: f16.subarray(0, 2), origin: 'x' })]).toEqual([1, 1]);
    const f32 = Float32Array.of(1, 2);
    expect(decodeChecked({ dtype: 'F32', data: f32, origin: 'x' })).toBe(f32);
    expect(() => decodeChecked({ dtype: 'F32', data: Float32Array.of(1, -Infinity), origin: 'b: tensor y' })).toThrow('b: tensor y holds a non-finite value (-Infinity) at element 1 of 2');
  });
});
