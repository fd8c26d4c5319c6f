import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import { inspectAdapterFiles } from '../data/adapters.ts';
import { openLab } from '../data/db.ts';
import { importDataset } from '../data/import.ts';
import { splitDataset } from '../data/split.ts';
import { bytesSource } from '../model/byte-source.ts';
import { newAdapter, readPeftAdapter } from '../model/peft.ts';
import { SafetensorsFile } from '../model/safetensors.ts';
import { makeBatch } from '../engine/batches.ts';
import { shuffled } from '../random.ts';
import { nodeRuntime } from '../engine/runtime-node.ts';
import { Qwen3Session } from '../engine/session.ts';
import { loadBundledTokenizer } from '../engine/tokenizer-node.ts';
import { parseTrainConfig } from '../engine/train-config.ts';
import type { TrainProgress } from '../engine/protocol.ts';
import { LoraTrainer } from '../engine/trainer.ts';
import { trainingRows, trainOnModel } from './train-run.ts';

const ROWS = [
  { query: 'nginx reverse proxy', completion: 'lex: nginx proxy_pass\nvec: configure nginx as a reverse proxy' },
  { query: 'git rebase onto main', completion: 'lex: git rebase --onto\nvec: rebase a branch onto main' },
  { query: 'sqlite wal mode', completion: 'lex: PRAGMA journal_mode=WAL\nvec: enable write-ahead logging in sqlite' },
  { query: 'rust borrow checker', completion: 'lex: borrow checker lifetimes\nvec: why rust rejects two mutable borrows' },
  { query: 'docker prune images', completion: 'lex: docker image prune\nvec: remove unused docker images' },
];

const sft = parseTrainConfig(readFileSync(new URL('../../configs/sft.yaml', import.meta.url), 'utf8'), 'configs/sft.yaml');
const config = { ...sft, lora: { ...sft.lora, r: 4, targets: sft.lora.targets.slice(0, 3) }, training: { ...sft.training, batchSize: 2, gradAccum: 1, maxLength: 48 }, optimizer: { ...sft.optimizer, warmupRatio: 0, lr: 1e-2 } };

describe('trainingRows', () => {
  it("returns the dataset's train and validation parts as splitDataset draws them, in row order", async () => {
    const db = await openLab(`train-run-test-${Date.now()}`);
    const jsonl = ROWS.map((r) => JSON.stringify({ input: r.query, output: r.completion })).join('\n');
    const { meta } = await importDataset(db, new Blob([jsonl]), { name: 'five' });
    const split = { ratio: 0.4, seed: 3 };
    const parts = await trainingRows(db, meta.id, split);
    const expected = splitDataset(ROWS.length, split);
    // Each row keeps its line in the file, for what is said about it (a skipped row's line).
    expect(parts.validation).toEqual(expected.validation.map((i) => ({ ...ROWS[i], line: i + 1 })));
    expect(parts.train).toEqual(expected.train.map((i) => ({ ...ROWS[i], line: i + 1 })));
    await expect(trainingRows(db, 'missing', split)).rejects.toThrow(/no stored dataset missing/);
  });
});

describe('trainOnModel', async () => {
  const model = tinyModelConfig();
  const weights = tinyModelWeights(model, 5);
  const tokenizer = await loadBundledTokenizer();
  const rows = { train: ROWS.slice(0, 4), validation: ROWS.slice(4) };

  it("trains as the CLI's trainer does, stops after a step when asked, and exports a PEFT adapter of its weights", async () => {
    const session = await Qwen3Session.load(nodeRuntime, model, weights);
    const phases: string[] = [];
    const result = await trainOnModel(nodeRuntime, { config: model, tokenizer, session }, rows, config, null, { onPhase: (p) => phases.push(p) });
    // 4 rows / (2·1) per step × 3 epochs.
    expect(result.steps.map((s) => [s.step, s.of, s.epoch])).toEqual([1, 2, 3, 4, 5, 6].map((n) => [n, 6, Math.floor((n - 1) / 2)]));
    expect(phases).toEqual(['compile', 'validation', 'export']);
    expect(result.stopped).toBe(false);
    expect(result.steps.at(-1)!.loss).toBeLessThan(result.steps[0]!.loss);

    // Step 1 by hand: the first micro-batch of epoch 0 on a fresh seeded adapter.
    const start = newAdapter(model, { r: 4, alpha: config.lora.alpha, targets: config.lora.targets, seed: config.training.seed });
    const trainer = await LoraTrainer.create(nodeRuntime, model, session.weights, start, { optimizer: config.optimizer, dropout: 0, seed: 42 });
    const examples = rows.train.map((r) => tokenizer.example(r.query, r.completion));
    const first = shuffled(4, config.training.seed).slice(0, 2).map((i) => examples[i]!);
    const { loss } = await trainer.evaluate(makeBatch(first, { maxLength: 48, lossOn: 'completion' }));
    await trainer.release();
    expect(Math.abs(result.steps[0]!.loss - loss) / loss).toBeLessThan(1e-5);

    // The validation loss is of the trained adapter on the held-out row.
    const { config: lora } = await inspectAdapterFiles(result.adapterConfig, result.adapterWeights);
    expect(lora).toMatchObject({ r: 4, alpha: config.lora.alpha, targets: config.lora.targets });
    const trained = await readPeftAdapter(JSON.parse(new TextDecoder().decode(result.adapterConfig)), await SafetensorsFile.open(bytesSource(result.adapterWeights)), model);
    const check = await LoraTrainer.create(nodeRuntime, model, session.weights, trained, { optimizer: config.optimizer, dropout: 0, seed: 42 });
    const held = await check.evaluate(makeBatch([tokenizer.example(ROWS[4]!.query, ROWS[4]!.completion)], { maxLength: 48, lossOn: 'completion' }));
    await check.release();
    expect(Math.abs(result.validationLoss! - held.loss) / held.loss).toBeLessThan(1e-5);

    let done = 0;
    const stoppedRun = await trainOnModel(nodeRuntime, { config: model, tokenizer, session }, rows, config, 4, { onStep: () => done++, stop: () => done >= 1 });
    expect(stoppedRun.stopped).toBe(true);
    expect(stoppedRun.discarded).toBeNull();
    expect(stoppedRun.steps.map((s) => s.step)).toEqual([1]);
    expect(stoppedRun.steps[0]!.of).toBe(4);
    expect(stoppedRun.steps[0]!.loss).toBeCloseTo(result.steps[0]!.loss, 6);
    await session.release();
  }, 120_000);

  it('refuses a session uploaded in float16, naming the layout', async () => {
    const session = await Qwen3Session.load(nodeRuntime, model, weights, { weightDtype: 'float16' });
    await expect(trainOnModel(nodeRuntime, { config: model, tokenizer, session }, rows, config, 1)).rejects.toThrow(/float16; LoRA training needs float32/);
    await session.release();
  });

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
      const result = await trainOnModel(nodeRuntime, loaded, rows, accum, 3, {
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
      const one = await trainOnModel(nodeRuntime, loaded, { train: rows.train, validation: [] }, accum, 1);
      expect(result.adapterWeights).toEqual(one.adapterWeights);
    }, 60_000);

    it('reports each graph step 1 builds (building, session, ready, with timings) before its first micro-batch', async () => {
      const events: TrainProgress[] = [];
      await trainOnModel(nodeRuntime, loaded, rows, accum, 1, { onProgress: (p) => events.push(p) });
      const graphs = events.slice(0, events.findIndex((p) => p.kind === 'micro-batch'));
      const of = graphs[0]!.kind === 'graph' ? graphs[0]!.of : 0;
      expect(graphs).toHaveLength(3 * of);
      graphs.forEach((p, i) => expect(p).toMatchObject({ kind: 'graph', index: Math.floor(i / 3) + 1, of, stage: ['building', 'session', 'ready'][i % 3] }));
      const names = graphs.filter((p) => p.kind === 'graph' && p.stage === 'ready').map((p) => p.kind === 'graph' && p.graph);
      expect(names.slice(-2)).toEqual(['gradient accumulation', 'AdamW update']);
      for (const name of names.slice(0, -2)) expect(name).toMatch(/^train step for batch 1 × length (16|32|48) \(64 loss positions\)$/);
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
      const run = trainOnModel(nodeRuntime, loaded, rows, accum, 3, { onProgress: (p) => events.push(p), stop: () => events.length > 0 });
      await expect(run).rejects.toMatchObject({ code: 'cancelled', message: 'training was cancelled during step 1 of 3: no step completed, so nothing was trained' });
      expect(events.map((p) => p.kind === 'graph' && `${p.index} ${p.stage}`)).toEqual(['1 building', '1 session', '1 ready']);
    }, 60_000);

    it('during the validation pass keeps the trained steps and skips the rest of it', async () => {
      const events: TrainProgress[] = [];
      const validation = ROWS.slice(3);
      const result = await trainOnModel(nodeRuntime, loaded, { train: rows.train, validation }, accum, 1, {
        onProgress: (p) => events.push(p),
        stop: () => events.some((p) => p.kind === 'validation'),
      });
      expect(result).toMatchObject({ stopped: false, discarded: null, validationSkipped: true, validationLoss: null });
      expect(result.steps.map((s) => s.step)).toEqual([1]);
      expect(kinds(events, 'validation')).toEqual([{ kind: 'validation', index: 1, of: 2 }]);
    }, 60_000);
  });
});
