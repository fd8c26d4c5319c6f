import { describe, expect, it } from 'vitest';
import { bucket, lossPositions, makeBatch, splitBatch } from './batches.ts';
import { END_OF_TEXT } from './tokenizer.ts';

const example = (ids: number[], promptLength: number) => ({ ids, completionMask: ids.map((_, t) => (t >= promptLength ? 1 : 0)) });

describe('makeBatch', () => {
  it('right-pads to a bucketed length and scores the positions that predict completion tokens', () => {
    const b = makeBatch([example([10, 11, 12, 13, 14], 3), example([20, 21, 22], 1)], { maxLength: 512, lossOn: 'completion' });
    expect(b.length).toBe(16);
    expect(b.ids.slice(0, 16)).toEqual([10, 11, 12, 13, 14, ...Array(11).fill(END_OF_TEXT)]);
    expect(b.ids.slice(16, 19)).toEqual([20, 21, 22]);
    // Row 0: positions 2, 3 predict 13, 14; row 1: positions 0, 1 predict 21, 22 (flat 16 + t).
    expect(b.tokens).toBe(4);
    expect(b.lossIndex.slice(0, 4)).toEqual([2, 3, 16, 17]);
    expect(b.lossTarget.slice(0, 4)).toEqual([13, 14, 21, 22]);
    expect(b.lossIndex).toHaveLength(16);
    expect(b.lossWeight.reduce((a, w) => a + w, 0)).toBe(4);
  });

  it('scores every next token with lossOn "all", and truncates to maxLength', () => {
    const b = makeBatch([example([1, 2, 3, 4, 5, 6], 4)], { maxLength: 4, lossOn: 'all' });
    expect(b.length).toBe(4);
    expect(b.lossTarget.slice(0, b.tokens)).toEqual([2, 3, 4]);
    expect(() => makeBatch([example([1, 2, 3, 4, 5, 6], 4)], { maxLength: 4, lossOn: 'completion' })).toThrow(/no scored token/);
  });

  it('pads the loss positions to the bucket of their count, padding weighted 0', () => {
    const row = (scored: number) => example(Array(scored + 1).fill(3), 1);
    for (const [scored, positions] of [[16, 16], [17, 32], [65, 128]]) {
      const b = makeBatch([row(scored)], { maxLength: 512, lossOn: 'completion' });
      expect([b.tokens, b.lossIndex.length, b.lossTarget.length, b.lossWeight.length]).toEqual([scored, positions, positions, positions]);
      expect(b.lossWeight.slice(scored)).toEqual(Array(positions - scored).fill(0));
    }
  });

  it('buckets loss positions by powers of two from 16 to 64, then by multiples of 64', () => {
    const counts = [1, 16, 17, 32, 33, 64, 65, 128, 129, 192, 193, 320, 2048];
    expect(counts.map(lossPositions)).toEqual([16, 16, 32, 32, 64, 64, 128, 128, 192, 192, 256, 320, 2048]);
  });

  it('buckets lengths by powers of two from 16, capped at the maximum', () => {
    expect([1, 16, 17, 100, 300, 512].map((n) => bucket(n, 512))).toEqual([16, 16, 32, 128, 512, 512]);
    expect(bucket(300, 400)).toBe(400);
  });
});

describe('splitBatch', () => {
  const rows = [example(Array(10).fill(5), 2), example(Array(20).fill(6), 2), example(Array(12).fill(7), 2), example(Array(40).fill(8), 2)];
  const options = { maxLength: 512, lossOn: 'completion' as const };

  it('keeps the whole batch without a token budget', () => {
    expect(splitBatch(rows, options).map((b) => [b.batch, b.length])).toEqual([[4, 64]]);
  });

  it('groups rows in order while rows × padded length fits the budget; a longer row runs alone', () => {
    // 10 and 20 tokens pad to 32: 2 × 32 = 64 fits; adding 12 (still 32) makes 96; 40 pads to 64 alone.
    expect(splitBatch(rows, options, 64).map((b) => [b.batch, b.length])).toEqual([[2, 32], [1, 16], [1, 64]]);
    expect(splitBatch(rows, options, 16).map((b) => b.batch)).toEqual([1, 1, 1, 1]);
  });

  it('scores every token of the batch exactly once across its micro-batches', () => {
    const whole = makeBatch(rows, options);
    const parts = splitBatch(rows, options, 64);
    expect(parts.reduce((n, b) => n + b.tokens, 0)).toBe(whole.tokens);
    expect(parts.flatMap((b) => b.lossTarget.slice(0, b.tokens))).toEqual(whole.lossTarget.slice(0, whole.tokens));
  });
});
