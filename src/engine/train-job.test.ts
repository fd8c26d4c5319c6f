// The training job the worker and `qmd train` share, on a tiny random Qwen3 on onnxruntime-node:
// the steps it runs, a stop between steps and between micro-batches, the graphs it reports, and
// the adapter it hands back (kept resident by the worker, as PEFT files for the page).
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import { inspectAdapterFiles } from '../data/adapters.ts';
import { newAdapter } from '../model/peft.ts';
import { shuffled } from '../random.ts';
import { makeBatch } from './batches.ts';
import type { TrainProgress } from './protocol.ts';
import { nodeRuntime } from './runtime-node.ts';
import { Qwen3Session } from './session.ts';
import { loadBundledTokenizer } from './tokenizer-node.ts';
import { parseTrainConfig } from './train-config.ts';
import { runTrainJob, trainResult, type TrainHooks, type TrainableModel } from './train-job.ts';
import { LoraTrainer, sessionWeights } from './trainer.ts';
import type { TrainRow } from './protocol.ts';
import { TRAIN_ROWS } from '../testing/train-rows.ts';

const ROWS = TRAIN_ROWS;

const sft = parseTrainConfig(readFileSync(new URL('../../configs/sft.yaml', import.meta.url), 'utf8'), 'configs/sft.yaml');
const config = { ...sft, lora: { ...sft.lora, r: 4, targets: sft.lora.targets.slice(0, 3) }, training: { ...sft.training, batchSize: 2, gradAccum: 1, maxLength: 48, lossOn: 'completion' as const }, optimizer: { ...sft.optimizer, warmupRatio: 0, lr: 1e-2 } };

/** The job as the worker and the CLI call it, with the page's argument order. */
const trainOnModel = (model: TrainableModel, rows: { train: readonly TrainRow[]; validation: readonly TrainRow[] }, c: typeof config, maxSteps: number | null, hooks: TrainHooks = {}) =>
  runTrainJob(nodeRuntime, model, { rows, config: c, maxSteps }, hooks);

describe('runTrainJob', async () => {
  const model = tinyModelConfig();
  const weights = tinyModelWeights(model, 5);
  const tokenizer = await loadBundledTokenizer();
  const rows = { train: ROWS.slice(0, 4), validation: ROWS.slice(4) };

  it("trains as the CLI's trainer does, stops after a step when asked, and exports a PEFT adapter of its weights", async () => {
    const session = await Qwen3Session.load(nodeRuntime, model, weights);
    const phases: string[] = [];
    const result = await trainOnModel({ config: model, tokenizer, session }, rows, config, null, { onPhase: (p) => phases.push(p) });
    // 4 rows / (2·1) per step × 3 epochs.
    expect(result.steps.map((s) => [s.step, s.of, s.epoch])).toEqual([1, 2, 3, 4, 5, 6].map((n) => [n, 6, Math.floor((n - 1) / 2)]));
    expect(phases).toEqual(['compile', 'validation', 'export']);
    expect(result.stopped).toBe(false);
    expect(result.steps.at(-1)!.loss).toBeLessThan(result.steps[0]!.loss);

    // Step 1 by hand: the first micro-batch of epoch 0 on a fresh seeded adapter.
    const start = newAdapter(model, { r: 4, alpha: config.lora.alpha, targets: config.lora.targets, seed: config.training.seed });
    const trainer = await LoraTrainer.create({ runtime: nodeRuntime, model, ...sessionWeights(session), start: { adapter: start }, optimizer: config.optimizer, dropout: 0, seed: 42 });
    const examples = rows.train.map((r) => tokenizer.example(r.query, r.completion));
    const first = shuffled(4, config.training.seed).slice(0, 2).map((i) => examples[i]!);
    const { loss } = await trainer.evaluate(makeBatch(first, { maxLength: 48, lossOn: 'completion' }));
    await trainer.release();
    expect(Math.abs(result.steps[0]!.loss - loss) / loss).toBeLessThan(1e-5);

    // The page gets the adapter as PEFT files, and where the worker keeps it.
    const resident = { id: 'trained:1', name: 'trained adapter', rank: 4, alpha: config.lora.alpha, targets: [...config.lora.targets] };
    const files = trainResult(result, model, resident);
    expect(files.adapter).toBe(resident);
    const { config: lora } = await inspectAdapterFiles(files.adapterConfig, files.adapterWeights);
    expect(lora).toMatchObject({ r: 4, alpha: config.lora.alpha, targets: config.lora.targets });
    // The validation loss is of the trained adapter on the held-out row.
    const check = await LoraTrainer.create({ runtime: nodeRuntime, model, ...sessionWeights(session), start: { adapter: result.adapter }, optimizer: config.optimizer, dropout: 0, seed: 42 });
    const held = await check.evaluate(makeBatch([tokenizer.example(ROWS[4]!.query, ROWS[4]!.completion)], { maxLength: 48, lossOn: 'completion' }));
    await check.release();
    expect(Math.abs(result.validationLoss! - held.loss) / held.loss).toBeLessThan(1e-5);

    let done = 0;
    const stoppedRun = await trainOnModel({ config: model, tokenizer, session }, rows, config, 4, { onStep: () => done++, stop: () => done >= 1 });
    expect(stoppedRun.stopped).toBe(true);
    expect(stoppedRun.discarded).toBeNull();
    expect(stoppedRun.steps.map((s) => s.step)).toEqual([1]);
    expect(stoppedRun.steps[0]!.of).toBe(4);
    expect(stoppedRun.steps[0]!.loss).toBeCloseTo(result.steps[0]!.loss, 6);
    await session.release();
  }, 120_000);

  it('trains a session uploaded in float16 with its vocabulary in chunks, as the float32 one to float16 rounding', async () => {
    // A binding limit of a third of the embedding splits the vocabulary as a small GPU would.
    const maxBindingBytes = Math.floor((model.vocabSize * model.hiddenSize * 4) / 3);
    const half = await Qwen3Session.load(nodeRuntime, model, weights, { weightDtype: 'float16', maxBindingBytes });
    expect([half.layout.dtype, half.layout.chunks.length >= 3]).toEqual(["float16", true]);
    const full = await Qwen3Session.load(nodeRuntime, model, weights);
    const [a, b] = [
      await trainOnModel({ config: model, tokenizer, session: full }, rows, config, 2),
      await trainOnModel({ config: model, tokenizer, session: half }, rows, config, 2),
    ];
    // Rounding the base weights to float16 moves the loss by ~1e-4 relative here (measured 2e-5).
    b.steps.forEach((s, i) => expect(Math.abs(s.loss - a.steps[i]!.loss) / a.steps[i]!.loss).toBeLessThan(1e-3));
    await Promise.all([half.release(), full.release()]);
  }, 120_000);

  describe('cancel', async () => {
    // Two micro-batches of one row per step, at a constant rate: the schedule does not depend on
    // maxSteps, so a cancelled run's adapter can be compared with a shorter run's.
    const accum = { ...config, training: { ...config.training, batchSize: 1, gradAccum: 2 }, optimizer: { ...config.optimizer, schedule: 'constant' as const } };
    const session = await Qwen3Session.load(nodeRuntime, model, weights);
    const loaded = { config: model, tokenizer, session };
    afterAll(() => session.release());
    const kinds = (events: TrainProgress[], kind: TrainProgress['kind']) => events.filter((p) => p.kind === kind);

    it('stops between micro-batches, discards the partial step, skips validation and keeps the last completed step', async () => {
      const events: TrainProgress[] = [];
      let stop = false;
      const result = await trainOnModel(loaded, rows, accum, 3, {
        onProgress: (p) => {
          events.push(p);
          if (p.kind === 'micro-batch' && p.step === 2) stop = true;
        },
        stop: () => stop,
      });
      expect(result.steps.map((s) => s.step)).toEqual([1]);
      expect(result).toMatchObject({ stopped: true, discarded: { step: 2, microBatches: 1, of: 2 }, validationSkipped: true, validationLoss: null });
      // Nothing started after the cancel: step 2's second micro-batch and the validation pass never ran.
      expect(kinds(events, 'micro-batch').map((p) => p.kind === 'micro-batch' && [p.step, p.index, p.of, p.totalSteps])).toEqual([[1, 1, 2, 3], [1, 2, 2, 3], [2, 1, 2, 3]]);
      expect(kinds(events, 'validation')).toEqual([]);
      expect(events.at(-1)).toEqual({ kind: 'micro-batch', step: 2, totalSteps: 3, index: 1, of: 2 });
      // The adapter is step 1's, untouched by the discarded micro-batch.
      const one = await trainOnModel(loaded, { train: rows.train, validation: [] }, accum, 1);
      expect(result.adapter).toEqual(one.adapter);
    }, 60_000);

    it('reports each graph step 1 builds (building, session, ready, with timings) before its first micro-batch', async () => {
      const events: TrainProgress[] = [];
      await trainOnModel(loaded, rows, accum, 1, { onProgress: (p) => events.push(p) });
      const graphs = events.slice(0, events.findIndex((p) => p.kind === 'micro-batch'));
      const of = graphs[0]!.kind === 'graph' ? graphs[0]!.of : 0;
      expect(graphs).toHaveLength(3 * of);
      graphs.forEach((p, i) => expect(p).toMatchObject({ kind: 'graph', index: Math.floor(i / 3) + 1, of, stage: ['building', 'session', 'ready'][i % 3] }));
      const names = graphs.filter((p) => p.kind === 'graph' && p.stage === 'ready').map((p) => p.kind === 'graph' && p.graph);
      expect(names.slice(-3)).toEqual(['gradient accumulation (first micro-batch)', 'gradient accumulation', 'AdamW update']);
      // One row a micro-batch, 15–18 scored tokens: 16 or 32 loss positions (batches.ts lossPositions); the v4 preset recomputes.
      for (const name of names.slice(0, -3)) expect(name).toMatch(/^train step for batch 1 × length 48 \((16|32) loss positions\), layers recomputed$/);
      for (const p of graphs) if (p.kind === 'graph' && p.stage === 'ready') expect(p.buildSeconds! >= 0 && p.sessionSeconds! >= 0).toBe(true);
      // The validation row is of another length bucket: its graph is built, and reported, in the validation pass.
      const validation = events.slice(events.findIndex((p) => p.kind === 'validation'));
      expect(validation.map((p) => (p.kind === 'graph' ? `${p.index} of ${p.of} ${p.stage}` : p))).toEqual([
        { kind: 'validation', index: 1, of: 1 },
        '1 of 1 building',
        '1 of 1 session',
        '1 of 1 ready',
      ]);
    }, 60_000);

    it('during graph building ends after the graph in progress, with nothing trained', async () => {
      const events: TrainProgress[] = [];
      const run = trainOnModel(loaded, rows, accum, 3, { onProgress: (p) => events.push(p), stop: () => events.length > 0 });
      await expect(run).rejects.toMatchObject({ code: 'cancelled', message: 'training was cancelled during step 1 of 3: no step completed, so nothing was trained' });
      expect(events.map((p) => p.kind === 'graph' && `${p.index} ${p.stage}`)).toEqual(['1 building', '1 session', '1 ready']);
    }, 60_000);

    it('during the validation pass keeps the trained steps and skips the rest of it', async () => {
      const events: TrainProgress[] = [];
      const validation = ROWS.slice(3);
      const result = await trainOnModel(loaded, { train: rows.train, validation }, accum, 1, {
        onProgress: (p) => events.push(p),
        stop: () => events.some((p) => p.kind === 'validation'),
      });
      expect(result).toMatchObject({ stopped: false, discarded: null, validationSkipped: true, validationLoss: null });
      expect(result.steps.map((s) => s.step)).toEqual([1]);
      expect(kinds(events, 'validation')).toEqual([{ kind: 'validation', index: 1, of: 2 }]);
    }, 60_000);
  });
});
