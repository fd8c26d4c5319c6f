// training.micro_batch_tokens bounds activation memory, not what is learnt: a batch of 4 rows run
// as micro-batches of one row each takes the same steps as the batch run whole — each micro-batch's
// gradient is weighted by its scored tokens — so losses, gradient norms and the adapter agree to
// float32 summation noise, and the validation loss too; so does recomputing each layer in the backward.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import type { LoraAdapter } from '../model/peft.ts';
import { nodeRuntime } from './runtime-node.ts';
import { Qwen3Session } from './session.ts';
import { loadBundledTokenizer } from './tokenizer-node.ts';
import type { TrainConfig } from './train-config.ts';
import { runTrainJob, type TrainableModel } from './train-job.ts';
import { queryRows } from '../testing/train-rows.ts';

const ROWS = queryRows(['nginx reverse proxy', 'git rebase onto main with autosquash', 'sqlite wal', 'rust borrow checker two mutable borrows']);

const config = (microBatchTokens?: number, recompute?: boolean): TrainConfig => ({
  lora: { r: 2, alpha: 4, dropout: 0, rslora: false, targets: ['q_proj', 'v_proj', 'down_proj'] },
  optimizer: { lr: 1e-2, schedule: 'cosine', warmupRatio: 0, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, maxGradNorm: 1 },
  training: { epochs: 2, batchSize: 4, gradAccum: 1, maxLength: 64, lossOn: 'all', seed: 7, ...(microBatchTokens ? { microBatchTokens } : {}), ...(recompute ? { recompute } : {}) },
  eval: { split: 0, seed: 42 },
  promptFormat: 'qmd-v4',
});

let model: TrainableModel;
beforeAll(async () => {
  const c = tinyModelConfig();
  model = { config: c, tokenizer: await loadBundledTokenizer(), session: await Qwen3Session.load(nodeRuntime, c, tinyModelWeights(c, 3)) };
});
afterAll(() => model?.session.release());

/** The largest elementwise difference between two adapters of one shape. */
function worstDifference(a: LoraAdapter, b: LoraAdapter): number {
  let worst = 0;
  a.layers.forEach((layer, l) => {
    for (const [target, pair] of Object.entries(layer)) {
      const other = b.layers[l]![target as keyof typeof layer]!;
      for (const key of ['a', 'b'] as const) pair![key].forEach((v, i) => (worst = Math.max(worst, Math.abs(v - other[key][i]!))));
    }
  });
  return worst;
}

async function train(microBatchTokens?: number, recompute?: boolean) {
  const microBatches: number[] = [];
  const outcome = await runTrainJob(nodeRuntime, model, { rows: { train: ROWS, validation: ROWS.slice(0, 2) }, config: config(microBatchTokens, recompute), maxSteps: null }, {
    onProgress: (p) => void (p.kind === 'micro-batch' && p.index === 1 && microBatches.push(p.of)),
  });
  return { outcome, microBatches };
}

it('a batch split into one-row micro-batches learns what the whole batch learns', async () => {
  const whole = await train();
  const split = await train(32);
  expect(whole.microBatches).toEqual([1, 1]);
  // Every row here pads to 32 tokens, so a 32-token budget runs them one at a time.
  expect(split.microBatches).toEqual([4, 4]);
  const [a, b] = [whole.outcome, split.outcome];
  expect(b.steps.map((s) => s.tokens)).toEqual(a.steps.map((s) => s.tokens));
  b.steps.forEach((s, i) => {
    expect(Math.abs(s.loss - a.steps[i]!.loss)).toBeLessThan(1e-5);
    expect(Math.abs(s.gradNorm - a.steps[i]!.gradNorm) / a.steps[i]!.gradNorm).toBeLessThan(1e-4);
  });
  expect(Math.abs(b.validationLoss! - a.validationLoss!)).toBeLessThan(1e-5);
  // B starts at zero: a run that learnt nothing would agree trivially.
  expect(a.adapter.layers[0]!.q_proj!.b.some((v) => v !== 0)).toBe(true);
  expect(worstDifference(a.adapter, b.adapter)).toBeLessThan(1e-5);
});

it('recomputing each layer in the backward (training.recompute) gives the same run to float32 noise', async () => {
  const [kept, rebuilt] = [await train(), await train(undefined, true)];
  // The forward is the same graph, so the losses agree bit for bit; the backward sums in another
  // order (measured: grad norms 1.3e-7 apart, relative).
  expect(rebuilt.outcome.steps.map((s) => s.loss)).toEqual(kept.outcome.steps.map((s) => s.loss));
  rebuilt.outcome.steps.forEach((s, i) => expect(Math.abs(s.gradNorm / kept.outcome.steps[i]!.gradNorm - 1)).toBeLessThan(1e-6));
  expect(worstDifference(kept.outcome.adapter, rebuilt.outcome.adapter)).toBeLessThan(1e-6);
});
