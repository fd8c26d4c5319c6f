import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../random.ts';
import { argmax, candidates, defaultSampling, sampleToken, stripThink, topIds, validateSampling, type SamplingOptions } from './sampling.ts';

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

  it('keeps the candidates of a stable sort of the whole vocabulary: top-k bit for bit, top-p the same ids', () => {
    // The definition: every id sorted by logit (ties by id), cut at k, then at the mass p; neither cutting, every id in id order.
    const bySort = (z: Float32Array, o: SamplingOptions) => {
      let ids = Array.from({ length: z.length }, (_, i) => i);
      if (o.topK > 0 || o.topP < 1) ids.sort((a, b) => z[b]! - z[a]!);
      if (o.topK > 0) ids = ids.slice(0, o.topK);
      const top = z[argmax(z)]!;
      const w = ids.map((i) => Math.exp((z[i]! - top) / o.temperature));
      const total = w.reduce((a, b) => a + b, 0);
      const probs = w.map((p) => p / total);
      if (o.topP === 1) return { ids, probs };
      let mass = 0;
      let keep = 0;
      while (keep < probs.length && mass < o.topP) mass += probs[keep++]!;
      return { ids: ids.slice(0, keep), probs: probs.slice(0, keep).map((p) => p / mass) };
    };
    const rng = mulberry32(11);
    for (let trial = 0; trial < 40; trial++) {
      // Logits on a coarse grid: many ties, which the order must break by id.
      const z = Float32Array.from({ length: 2000 + trial * 97 }, () => Math.round((rng() - 0.5) * 24 * 4) / 4);
      const topK = [1, 2, 5, 50, 0][trial % 5]!;
      const topP = [1, 0.9, 0.5, 0.99][trial % 4]!;
      const o = { ...defaultSampling, topK, topP, temperature: 0.5 + (trial % 3) * 0.3 };
      const got = candidates(z, o);
      const want = bySort(z, o);
      expect(got.ids, `trial ${trial}`).toEqual(want.ids);
      if (topK > 0) expect(got.probs).toEqual(want.probs);
      else got.probs.forEach((p, i) => expect(Math.abs(p - want.probs[i]!)).toBeLessThan(1e-12));
    }
    expect(topIds(Float32Array.from([2, 5, 5, 1, 5]), 2)).toEqual([1, 2]);
    expect(topIds(Float32Array.from([2, 5]), 5)).toEqual([1, 0]);
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
