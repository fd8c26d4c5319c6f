// Qwen3Session.forwardRows: a batch of equal-length rows in one run per position (GRPO samples a
// prompt's G completions so). Each row's logits are those of the same row run alone, prefill and
// decode steps, on the fused graphs (their [B, KV, capacity, hd] cache, one regrowth carrying every
// row's positions) and the plain ones (one [T, S] bias for all rows), float32 with an adapter and
// the vocabulary in chunks; a batch keeps its size until reset.
import { afterAll, describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import type { Qwen3Config } from '../model/config.ts';
import { newAdapter } from '../model/peft.ts';
import { loraTargets } from '../model/tensors.ts';
import { relativeError } from '../testing/numerics.ts';
import { FIRST_CAPACITY } from './fused-cache.ts';
import { nodeRuntime } from './runtime-node.ts';
import { Qwen3Session, type Qwen3SessionOptions } from './session.ts';

const fusedModel = tinyModelConfig({ hidden: 64, headDim: 16, intermediate: 96 });
const plainModel = tinyModelConfig({ hidden: 32, headDim: 8, intermediate: 48 });
const chunked = (c: Qwen3Config) => ({ maxBindingBytes: Math.ceil(c.vocabSize / 3) * c.hiddenSize * 4 });

/** Three prompts of 6 tokens, then 4 decode steps with a different token per row. */
const prompts = [
  [151644, 872, 198, 40000, 3, 2152],
  [151644, 872, 198, 9190, 151645, 198],
  [26865, 7, 151935, 11, 500, 77],
];
const steps = [
  [17, 90000, 151645],
  [4, 4, 4],
  [151643, 12, 60000],
  [8, 151000, 31],
];

const sessions: Qwen3Session[] = [];
afterAll(async () => {
  for (const s of sessions) await s.release();
});
async function load(c: Qwen3Config, options: Qwen3SessionOptions) {
  const s = await Qwen3Session.load(nodeRuntime, c, tinyModelWeights(c, 31), options);
  sessions.push(s);
  await s.setAdapter(newAdapter(c, { r: 2, alpha: 4, targets: [...loraTargets], seed: 5, bStd: 0.2 }));
  return s;
}

/** Row b alone: its prompt, then its token of each step; the logits after each run. */
async function alone(s: Qwen3Session, b: number): Promise<Float32Array[]> {
  await s.reset();
  const out = [await s.forward(prompts[b]!)];
  for (const step of steps) out.push(await s.forward([step[b]!]));
  return out;
}

describe('Qwen3Session.forwardRows', () => {
  it.each([
    ['fused, float32, unsplit', fusedModel, {}],
    ['fused, float32, 3 vocabulary chunks', fusedModel, chunked(fusedModel)],
    ['plain, float32, 3 vocabulary chunks', plainModel, chunked(plainModel)],
  ] satisfies Array<[string, Qwen3Config, Qwen3SessionOptions]>)('%s, with an adapter: each row’s logits are its batch-1 logits within 1e-5', async (_, c, options) => {
    const s = await load(c, options);
    expect(s.fused).toBe(c === fusedModel);
    const want: Float32Array[][] = [];
    for (let b = 0; b < prompts.length; b++) want.push(await alone(s, b));
    await s.reset();
    const got = [await s.forwardRows(prompts)];
    for (const step of steps) got.push(await s.forwardRows(step.map((id) => [id])));
    expect(s.cachedTokens).toBe(prompts[0]!.length + steps.length);
    got.forEach((rows, t) =>
      rows.forEach((logits, b) => {
        expect(logits).toHaveLength(c.vocabSize);
        expect(relativeError(logits, want[b]![t]!)).toBeLessThan(1e-5);
        // The rows are different sequences: a batch that mixed them up could not match.
        expect(relativeError(want[b]![t]!, want[(b + 1) % 3]![t]!)).toBeGreaterThan(1e-2);
      }),
    );
  });

  it('fused: the cache holds [rows, KV, capacity, hd] and one regrowth carries every row’s positions', async () => {
    const s = await load(fusedModel, {});
    const perPosition = 2 * fusedModel.numLayers * fusedModel.numKvHeads * fusedModel.headDim * 4;
    const sequences = [0, 1].map((b) => Array.from({ length: FIRST_CAPACITY + 3 }, (_, i) => (i * 7919 + b * 104_729) % 150_000));
    const prefill = FIRST_CAPACITY - 2;
    await s.reset();
    await s.forwardRows(sequences.map((q) => q.slice(0, prefill)));
    expect(s.memory().kvCache).toBe(2 * FIRST_CAPACITY * perPosition);
    let last: Float32Array[] = [];
    for (let t = prefill; t < FIRST_CAPACITY + 3; t++) last = await s.forwardRows(sequences.map((q) => [q[t]!]));
    expect(s.memory().kvCache).toBe(2 * 2 * FIRST_CAPACITY * perPosition);
    for (const [b, q] of sequences.entries()) {
      await s.reset();
      expect(relativeError(last[b]!, await s.forward(q))).toBeLessThan(1e-5);
    }
    // A batch of one after the batch of two: the buffers re-made for one row.
    expect(s.memory().kvCache).toBe(2 * FIRST_CAPACITY * perPosition);
  });

  it('refuses rows of unequal length, none, and another batch size before reset', async () => {
    const s = await load(plainModel, {});
    await s.reset();
    await expect(s.forwardRows([[1, 2], [3]])).rejects.toThrow(/row 1 has 1 token ids, row 0 has 2 \(a batch's rows are of one length\)/);
    await expect(s.forwardRows([])).rejects.toThrow(/no token ids/);
    await s.forwardRows([[1, 2], [3, 4]]);
    await expect(s.forward([5])).rejects.toThrow(/1 rows given, the cached batch has 2 \(reset the session/);
    expect(s.cachedTokens).toBe(2);
    await s.reset();
    expect(await s.forward([5])).toHaveLength(plainModel.vocabSize);
  });
});
