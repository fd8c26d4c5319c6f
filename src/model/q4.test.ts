import { describe, expect, it } from 'vitest';
import { seededRandom } from './random.ts';
import { dequantizeQ4, Q4_BLOCK, q4Refusal, quantizeQ4, quantizeQ4Into } from './q4.ts';

const random = seededRandom(7);
const gaussian = (n: number, sd = 0.1) => Float32Array.from({ length: n }, () => sd * random.normal());

describe('quantizeQ4 / dequantizeQ4', () => {
  it('errs by at most |scale|/2 on every value, with no clipping, on gaussian and adversarial blocks', () => {
    const rows = 8;
    const cols = 128;
    const w = gaussian(rows * cols);
    // Adversarial blocks: one side only; both extremes of equal magnitude; a lone outlier; all zero; tiny values.
    w.set(Float32Array.from({ length: 32 }, (_, i) => 0.01 * (i + 1)), 0);
    w.set(Float32Array.from({ length: 32 }, (_, i) => (i % 2 ? 1 : -1) * (0.5 - i / 100)), 32);
    w.set(Float32Array.from({ length: 32 }, (_, i) => (i === 5 ? 40 : 0.001 * i)), 64);
    w.set(new Float32Array(32), 96);
    w.set(Float32Array.from({ length: 32 }, (_, i) => 1e-30 * (i - 16)), 128);
    const q = quantizeQ4(w, rows, cols, 'w');
    const back = dequantizeQ4(q, rows, cols);
    let worst = 0;
    for (let i = 0; i < w.length; i++) {
      const scale = Math.abs(q.scales[(i / Q4_BLOCK) | 0]!);
      const error = Math.abs(back[i]! - w[i]!);
      // float32 rounding of x/scale and of (q − 8)·scale adds a few ulps of x at most.
      expect(error).toBeLessThanOrEqual(scale / 2 + 4 * 2 ** -23 * Math.abs(w[i]!));
      if (scale > 0) worst = Math.max(worst, error / scale);
    }
    expect(worst).toBeGreaterThan(0.45); // the bound is reached, not loose
    expect([...back.subarray(96, 128)]).toEqual(new Array(32).fill(0));
    // The scale is max|x|/8 when the other side fits in 7 steps, at most max|x|/7.
    expect(q.scales[0]).toBeCloseTo(-0.32 / 8, 7); // all positive: the peak takes code 0, so the scale is negative
    expect(q.scales[1]).toBeCloseTo(0.49 / 7, 7); // −0.5 and +0.49: +0.49 in 7 steps needs 0.07, more than 0.5/8
    expect(q.scales[2]).toBeCloseTo(-40 / 8, 6);
  });

  it('gives back exactly the values a block of 4-bit codes stands for, low nibble first', () => {
    const cols = 64;
    const scale = [0.0375, -0.5]; // a negative scale puts code 0 on the positive side
    const codes = Array.from({ length: cols }, (_, i) => (i === 0 || i === 32 ? 0 : (i * 7 + 3) % 16));
    codes[1] = 15;
    const w = Float32Array.from(codes, (c, i) => (c - 8) * Math.fround(scale[(i / 32) | 0]!));
    const q = quantizeQ4(w, 1, cols, 'w');
    expect([...q.scales]).toEqual(scale.map(Math.fround));
    expect(q.packed[0]).toBe(0xf0); // codes 0 then 15
    expect([...q.packed].flatMap((b) => [b & 15, b >> 4])).toEqual(codes);
    expect(dequantizeQ4(q, 1, cols)).toEqual(w);
  });

  it('quantizes a matrix a few rows at a time into the same bytes as all at once', () => {
    const w = gaussian(6 * 96);
    const whole = quantizeQ4(w, 6, 96, 'w');
    const parts = { packed: new Uint8Array(whole.packed.length), scales: new Float32Array(whole.scales.length) };
    quantizeQ4Into(parts, 0, w.subarray(0, 4 * 96), 4, 96, 'w');
    quantizeQ4Into(parts, 4 * 3, w.subarray(4 * 96), 2, 96, 'w');
    expect(parts).toEqual(whole);
    expect(() => quantizeQ4Into(parts, 5 * 3, w.subarray(4 * 96), 2, 96, 'w')).toThrow('q4: w rows need blocks [15, 21), the output holds 18');
  });

  it('refuses rows that are not whole blocks, naming the tensor', () => {
    expect(q4Refusal('model.layers.0.mlp.down_proj.weight', [32, 48])).toBe(
      'model.layers.0.mlp.down_proj.weight [32, 48] has 48 columns, not a multiple of the 4-bit block of 32',
    );
    expect(q4Refusal('model.norm.weight', [64])).toBe('model.norm.weight [64] is not a matrix');
    expect(q4Refusal('q', [3, 1024])).toBeNull();
    expect(() => quantizeQ4(new Float32Array(2 * 48), 2, 48, 'model.layers.0.mlp.down_proj.weight')).toThrow('q4: model.layers.0.mlp.down_proj.weight [2, 48] has 48 columns');
    expect(() => quantizeQ4(new Float32Array(10), 2, 32, 'w')).toThrow('q4: w has 10 values, [2, 32] needs 64');
  });
});
