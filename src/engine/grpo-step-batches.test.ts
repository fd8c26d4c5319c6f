// GRPO's train-step micro-batches: each keeps one padding position past its scored ones for the
// weight 1 − Σw (grpo-step.ts module comment), also when the scored tokens fill a loss-position
// bucket exactly (batches.ts lossPositions), and pads no further than the next bucket.
import { describe, expect, it } from 'vitest';
import { lossPositions } from './batches.ts';
import { grpoTrainBatches, sampledRow } from './grpo-step.ts';

/** A stopped completion scoring `scored` tokens (its ids and <|im_end|>) after a 3-token prompt. */
const row = (scored: number) => sampledRow([1, 2, 3], Array.from({ length: scored - 1 }, (_, t) => 10 + t), 'stop');

describe('grpoTrainBatches', () => {
  for (const scored of [15, 16, 17, 64]) {
    it(`${scored} scored tokens: the spare position holds 1 − Σw, inside the bucket of ${scored + 1} positions`, () => {
      const w = Array.from({ length: scored }, (_, t) => (t % 2 ? 0.25 : -0.125));
      const [batch] = grpoTrainBatches([row(scored)], [w], 1, 128);
      expect(batch!.tokens).toBe(scored);
      expect(batch!.lossIndex).toHaveLength(lossPositions(scored + 1));
      expect(batch!.lossWeight.slice(scored)).toEqual(Array(batch!.lossIndex.length - scored).fill(0));
      expect(batch!.tokenWeights!.slice(0, scored)).toEqual(w);
      expect(batch!.tokenWeights![scored]).toBeCloseTo(1 - w.reduce((a, b) => a + b, 0), 12);
      expect(batch!.tokenWeights!.slice(scored + 1).every((x) => x === 0)).toBe(true);
    });
  }
});
