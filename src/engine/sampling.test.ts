import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../random.ts';
import { argmax, candidates, defaultSampling, sampleToken, stripThink, validateSampling } from './sampling.ts';

const logits = Float32Array.from([1.0, 3.0, 2.5, -1.0, 0.5]);

function softmax(xs: ArrayLike<number>, temperature: number): number[] {
  const max = Math.max(...Array.from(xs));
  const e = Array.from(xs, (x) => Math.exp((x - max) / temperature));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

describe('sampling', () => {
  it('greedy picks the argmax regardless of the seed', () => {
    const o = { ...defaultSampling, greedy: true };
    expect(argmax(logits)).toBe(1);
    expect(sampleToken(logits, o, mulberry32(1))).toBe(1);
    expect(sampleToken(logits, o, mulberry32(99))).toBe(1);
  });

  it('is reproducible for a seed and differs across seeds', () => {
    const draw = (seed: number) => {
      const rng = mulberry32(seed);
      return Array.from({ length: 50 }, () => sampleToken(logits, defaultSampling, rng));
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
  });

  it('draws tokens with the tempered softmax frequencies', () => {
    const rng = mulberry32(7);
    const n = 40000;
    const counts = new Array<number>(logits.length).fill(0);
    for (let i = 0; i < n; i++) counts[sampleToken(logits, defaultSampling, rng)]!++;
    const expected = softmax(logits, 0.7);
    for (let i = 0; i < logits.length; i++) {
      const sd = Math.sqrt((expected[i]! * (1 - expected[i]!)) / n);
      expect(Math.abs(counts[i]! / n - expected[i]!)).toBeLessThan(5 * sd + 1e-9);
    }
  });

  it('top-k keeps the k most likely tokens, renormalized', () => {
    const { ids, probs } = candidates(logits, { ...defaultSampling, topK: 2, temperature: 1 });
    expect(ids).toEqual([1, 2]);
    const p = softmax([3.0, 2.5], 1);
    expect(probs[0]).toBeCloseTo(p[0]!, 12);
    expect(probs[1]).toBeCloseTo(p[1]!, 12);
  });

  it('top-p keeps the smallest prefix whose mass reaches p', () => {
    const full = softmax(logits, 1); // sorted: 1, 2, 0, 4, 3
    const p = full[1]! + full[2]! + 0.01; // needs a third token
    const { ids, probs } = candidates(logits, { ...defaultSampling, topP: p, temperature: 1 });
    expect(ids).toEqual([1, 2, 0]);
    expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const rng = mulberry32(3);
    for (let i = 0; i < 2000; i++) expect([1, 2, 0]).toContain(sampleToken(logits, { ...defaultSampling, topP: p }, rng));
  });

  it('rejects settings that cannot sample', () => {
    expect(() => validateSampling({ ...defaultSampling, temperature: 0 })).toThrow(/temperature/);
    expect(() => validateSampling({ ...defaultSampling, topP: 0 })).toThrow(/topP/);
    expect(() => validateSampling({ ...defaultSampling, maxNewTokens: 0 })).toThrow(/maxNewTokens/);
    expect(validateSampling({ ...defaultSampling, greedy: true, temperature: 0 }).greedy).toBe(true);
  });

  it('strips only a leading think block', () => {
    expect(stripThink('<think>\n\n</think>\n\nlex: a\nvec: b')).toBe('lex: a\nvec: b');
    expect(stripThink('<think>plan the lines</think>lex: a')).toBe('lex: a');
    expect(stripThink('lex: a <think>x</think>')).toBe('lex: a <think>x</think>');
    expect(stripThink('lex: a')).toBe('lex: a');
  });
});
