// The page's pause and its validation cadence, on the shared training job (onnxruntime-node, tiny
// random Qwen3): a pause ends the run after a completed step with that step's checkpoint (even
// without a checkpoint interval), resuming from it reaches the uninterrupted run's parameters bit
// for bit, and the validation loss every N steps is the loss of that step's adapter.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import type { TrainingCheckpoint } from './checkpoint.ts';
import { nodeRuntime } from './runtime-node.ts';
import { Qwen3Session } from './session.ts';
import { loadBundledTokenizer } from './tokenizer-node.ts';
import { parseTrainConfig } from './train-config.ts';
import { runTrainJob, type TrainHooks, type TrainJob } from './train-job.ts';
import { queryRows, TRAIN_QUERIES } from '../testing/train-rows.ts';

const ROWS = queryRows(TRAIN_QUERIES);

const sft = parseTrainConfig(readFileSync(new URL('../../configs/sft.yaml', import.meta.url), 'utf8'), 'configs/sft.yaml');
const config = {
  ...sft,
  lora: { ...sft.lora, r: 2, dropout: 0.1, targets: sft.lora.targets.slice(0, 2) },
  training: { ...sft.training, batchSize: 1, gradAccum: 1, maxLength: 48, lossOn: 'completion' as const },
  optimizer: { ...sft.optimizer, warmupRatio: 0, lr: 1e-2 },
};
const rows = { train: ROWS.slice(0, 4), validation: ROWS.slice(4) };

describe('runTrainJob: pause, resume and the validation cadence', async () => {
  const model = tinyModelConfig();
  const session = await Qwen3Session.load(nodeRuntime, model, tinyModelWeights(model, 5));
  const trainable = { config: model, tokenizer: await loadBundledTokenizer(), session };
  afterAll(() => session.release());
  const run = (job: Partial<TrainJob>, hooks: TrainHooks = {}) => {
    const checkpoints: TrainingCheckpoint[] = [];
    const outcome = runTrainJob(nodeRuntime, trainable, { rows, config, maxSteps: 4, ...job }, { ...hooks, onCheckpoint: async (c) => void checkpoints.push(c) });
    return outcome.then((o) => ({ ...o, checkpoints }));
  };

  it('pauses after a completed step with its checkpoint; resuming from it ends where the run that never paused did', async () => {
    const whole = await run({ checkpointEvery: 4, validateEvery: 2 });
    expect(whole.paused).toBe(false);
    expect(whole.checkpoints.map((c) => c.state.step)).toEqual([4]);

    let done = 0;
    const phases: string[] = [];
    const first = await run({ validateEvery: 2 }, { onStep: () => done++, pause: () => done >= 2, onPhase: (p) => phases.push(p) });
    expect(first).toMatchObject({ paused: true, stopped: true, discarded: null, validationLoss: null });
    expect(first.steps.map((s) => s.step)).toEqual([1, 2]);
    // No checkpoint interval: the pause alone wrote one, of step 2, with both steps' records.
    expect(first.checkpoints.map((c) => [c.state.step, c.metrics.length, c.position.batch])).toEqual([[2, 2, 2]]);
    expect(phases).toEqual(['compile', 'validation', 'export']);

    const rest = await run({ resume: first.checkpoints[0], checkpointEvery: 4, validateEvery: 2 });
    expect(rest.paused).toBe(false);
    expect(rest.steps.map((s) => s.step)).toEqual([1, 2, 3, 4]);
    expect(rest.steps.map((s) => s.loss)).toEqual(whole.steps.map((s) => s.loss));
    const [a, b] = [whole.checkpoints[0]!.state.tensors, rest.checkpoints[0]!.state.tensors];
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    for (const name of Object.keys(a)) expect(b[name], name).toEqual(a[name]);
    expect(rest.validationLoss).toBe(whole.validationLoss);
  }, 120_000);

  it('computes the validation loss every N steps before the last (the final pass covers the last): that of the step\'s adapter', async () => {
    // At a constant rate, a run that ends at step 2 makes the same first two steps as the 4-step one.
    const constant = { ...config, optimizer: { ...config.optimizer, schedule: 'constant' as const } };
    const every = await run({ config: constant, validateEvery: 2 });
    expect(every.steps.map((s) => s.validationLoss !== undefined)).toEqual([false, true, false, false]);
    const two = await run({ config: constant, maxSteps: 2 });
    expect(two.steps.map((s) => s.loss)).toEqual(every.steps.slice(0, 2).map((s) => s.loss));
    expect(every.steps[1]!.validationLoss).toBe(two.validationLoss);
    expect(every.validationLoss).not.toBe(two.validationLoss);
  }, 120_000);

  it('a pause asked at the last step does not stop the run: it finishes with its validation pass', async () => {
    const last = await run({ maxSteps: 1 }, { pause: () => true });
    expect(last).toMatchObject({ paused: false, stopped: false });
    expect(last.validationLoss).not.toBeNull();
  }, 60_000);
});
