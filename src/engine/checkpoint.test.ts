// Resume == uninterrupted, bit for bit on onnxruntime-node: a run with dropout, gradient
// accumulation and an epoch boundary, stopped after step 4 of 6 and resumed from its checkpoint
// (through the two files the CLI writes), reaches the very parameters and AdamW moments of the
// run that never stopped. And the checks that make that hold: the dropout masks follow the step
// count, a saved position must be where that step puts the data, and other data or settings are
// refused by name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import { bytesSource } from '../model/byte-source.ts';
import { SafetensorsFile } from '../model/safetensors.ts';
import { makeBatch } from './batches.ts';
import { checkpointFiles, readCheckpoint, type TrainingCheckpoint } from './checkpoint.ts';
import { nodeRuntime } from './runtime-node.ts';
import { Qwen3Session } from './session.ts';
import { runSft, sftExamples } from './sft.ts';
import { loadBundledTokenizer } from './tokenizer-node.ts';
import type { TrainConfig } from './train-config.ts';
import { runTrainJob, type TrainableModel } from './train-job.ts';
import { LoraTrainer, sessionWeights } from './trainer.ts';
import { queryRows, TRAIN_QUERIES } from '../testing/train-rows.ts';

const ROWS = queryRows(TRAIN_QUERIES);

// 5 rows in micro-batches of 1, 2 per step: 3 steps an epoch (the third a single micro-batch), 6 in all.
const config: TrainConfig = {
  lora: { r: 2, alpha: 4, dropout: 0.2, rslora: false, targets: ['q_proj', 'v_proj', 'down_proj'] },
  optimizer: { lr: 1e-2, schedule: 'cosine', warmupRatio: 0.2, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 },
  training: { epochs: 2, batchSize: 1, gradAccum: 2, maxLength: 48, lossOn: 'completion', seed: 7 },
  eval: { split: 0, seed: 42 },
  promptFormat: 'qmd-v4',
};
const rows = { train: ROWS, validation: [] };

let model: TrainableModel;
beforeAll(async () => {
  const c = tinyModelConfig();
  model = { config: c, tokenizer: await loadBundledTokenizer(), session: await Qwen3Session.load(nodeRuntime, c, tinyModelWeights(c, 3)) };
});
afterAll(() => model?.session.release());

/** The job with a checkpoint every 2 steps, collected; `stopAfter` ends it after that step. */
async function run(options: { resume?: TrainingCheckpoint; stopAfter?: number } = {}) {
  const checkpoints: TrainingCheckpoint[] = [];
  let steps = 0;
  const outcome = await runTrainJob(nodeRuntime, model, { rows, config, maxSteps: null, resume: options.resume, checkpointEvery: 2 }, {
    onStep: () => steps++,
    onCheckpoint: async (c) => void checkpoints.push(c),
    stop: () => options.stopAfter !== undefined && steps >= options.stopAfter,
  });
  return { outcome, checkpoints };
}

/** Through the CLI's two files and back. */
async function roundTrip(c: TrainingCheckpoint): Promise<TrainingCheckpoint> {
  const files = checkpointFiles(c);
  return readCheckpoint(files.json, await SafetensorsFile.open(bytesSource(files.tensors, 'checkpoint.safetensors')));
}

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('resume from a checkpoint', () => {
  it('reaches the parameters, moments and losses of the uninterrupted run, bit for bit', async () => {
    const whole = await run();
    expect(whole.checkpoints.map((c) => c.state.step)).toEqual([2, 4, 6]);
    const cut = await run({ stopAfter: 4 });
    expect(cut.outcome.stopped).toBe(true);
    const saved = cut.checkpoints.at(-1)!;
    expect(saved.state.step).toBe(4);
    // Step 4 is epoch 1's first step: the next one starts at its micro-batch 2.
    expect(saved.position).toEqual({ epoch: 1, batch: 2 });
    const resumed = await run({ resume: await roundTrip(saved) });
    expect(resumed.outcome.steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6]);

    const want = whole.checkpoints.at(-1)!;
    const got = resumed.checkpoints.at(-1)!;
    expect(got.state.step).toBe(6);
    expect(Object.keys(got.state.tensors).sort()).toEqual(Object.keys(want.state.tensors).sort());
    expect(Object.keys(want.state.tensors).some((name) => name.startsWith('m.'))).toBe(true);
    for (const [name, data] of Object.entries(want.state.tensors)) expect(bytes(got.state.tensors[name]!).equals(bytes(data)), name).toBe(true);
    expect(got.metrics.map((m) => m.loss)).toEqual(want.metrics.map((m) => m.loss));
    expect(got.metrics.map((m) => m.gradNorm)).toEqual(want.metrics.map((m) => m.gradNorm));
    // Training moved the parameters: the equality is not that of untouched zeros.
    const b = want.state.tensors['lora.1.v_proj.B']!;
    expect(b.some((v) => v !== 0)).toBe(true);
  }, 120_000);

  it("draws a step's dropout masks from its step count: a trainer told step 0 computes another loss on the same batch", async () => {
    const saved = (await run({ stopAfter: 2 })).checkpoints.at(-1)!;
    const { examples } = sftExamples(ROWS, model.tokenizer, config);
    const batch = makeBatch(examples.slice(0, 1), { maxLength: 48, lossOn: 'completion' });
    const lossAt = async (step: number) => {
      const trainer = await LoraTrainer.create({
        runtime: nodeRuntime,
        model: model.config,
        ...sessionWeights(model.session),
        start: { config: saved.lora, state: { ...saved.state, step } },
        optimizer: config.optimizer,
        dropout: config.lora.dropout,
        seed: config.training.seed,
      });
      // The loss is of the forward pass, before the update: only the masks differ between the two.
      const { loss } = await trainer.step([batch], 0);
      await trainer.release();
      return loss;
    };
    expect(await lossAt(2)).toBe(await lossAt(2));
    expect(await lossAt(2)).not.toBe(await lossAt(0));
  }, 60_000);

  it('refuses a saved position that is not where its step puts the data, and other rows or settings by name', async () => {
    const saved = (await run({ stopAfter: 2 })).checkpoints.at(-1)!;
    expect(saved.position).toEqual({ epoch: 0, batch: 4 });
    const { examples } = sftExamples(ROWS, model.tokenizer, config);
    const trainer = await LoraTrainer.create({ runtime: nodeRuntime, model: model.config, ...sessionWeights(model.session), start: { config: saved.lora, state: saved.state }, optimizer: config.optimizer, dropout: 0.2, seed: 7 });
    await expect(runSft(trainer, examples, config, { position: { epoch: 0, batch: 0 } })).rejects.toThrow(
      'runSft: the saved position (epoch 0, micro-batch 0) is not where step 2 ends with 5 examples in batches of 1 × 2 (epoch 0, micro-batch 4): the data or the settings differ from the saved run',
    );
    await trainer.release();

    const resume = (job: Partial<Parameters<typeof runTrainJob>[2]>) => runTrainJob(nodeRuntime, model, { rows, config, maxSteps: null, resume: saved, ...job });
    await expect(resume({ rows: { train: ROWS.slice(1), validation: [] } })).rejects.toThrow(
      /^cannot resume: the training rows differ from the checkpoint's: it trained on 5 examples \(fingerprint [0-9a-f]{16}\), these are 4 \([0-9a-f]{16}\)/,
    );
    const swapped = [...ROWS.slice(0, 4), { ...ROWS[4]!, completion: 'lex: docker rmi' }];
    await expect(resume({ rows: { train: swapped, validation: [] } })).rejects.toThrow(/the training rows differ from the checkpoint's: it trained on 5 examples .* these are 5/);
    await expect(resume({ config: { ...config, training: { ...config.training, seed: 8 } } })).rejects.toThrow(
      "cannot resume: the settings differ from the checkpoint's (training.seed: the checkpoint's is 7, this run's 8)",
    );
    await expect(resume({ maxSteps: 2 })).rejects.toThrow('cannot resume: the checkpoint has completed step 2, and this run ends at step 2');
  }, 60_000);
});

describe('checkpoint files', () => {
  it('refuse a torn pair and a bad field, naming the file and field', async () => {
    const saved = (await run({ stopAfter: 2 })).checkpoints.at(-1)!;
    const files = checkpointFiles(saved);
    const later = checkpointFiles({ ...saved, state: { ...saved.state, step: 4 }, metrics: [...saved.metrics, ...saved.metrics] });
    await expect(readCheckpoint(later.json, await SafetensorsFile.open(bytesSource(files.tensors)))).rejects.toThrow(
      'checkpoint.safetensors holds step 2 but checkpoint.json step 4: the checkpoint was cut off while being written; use an earlier one',
    );
    const json = JSON.parse(files.json) as Record<string, unknown>;
    const broken = JSON.stringify({ ...json, position: { epoch: -1, batch: 0 } });
    await expect(readCheckpoint(broken, await SafetensorsFile.open(bytesSource(files.tensors)))).rejects.toThrow('checkpoint.json: position.epoch: expected an integer ≥ 0, got -1');
    // The in-memory form is plain data: IndexedDB (structured clone) keeps it as it is.
    const clone = structuredClone(saved);
    expect(clone.state.tensors['lora.0.q_proj.A']).toEqual(saved.state.tensors['lora.0.q_proj.A']);
    expect(clone.state.tensors['lora.0.q_proj.A']).toBeInstanceOf(Float32Array);
  }, 60_000);
});
