import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import type { TrainingCheckpoint } from '../engine/checkpoint.ts';
import type { TrainStep } from '../engine/protocol.ts';
import type { TrainConfig } from '../engine/train-config.ts';
import { openLab, type TrainRunRecord } from './db.ts';
import {
  deleteTrainRun, endedRecord, getTrainRun, listTrainRuns, markInterrupted, putTrainRun, readTrainCheckpoint, recordStep, resumedRecord,
  resumeRefusal, saveTrainCheckpoint,
} from './train-runs.ts';

let dbCount = 0;
const fresh = () => openLab(`train-runs-test-${++dbCount}-${Date.now()}`);

const config: TrainConfig = {
  lora: { r: 2, alpha: 4, dropout: 0, rslora: false, targets: ['q_proj'] },
  optimizer: { lr: 1e-3, schedule: 'constant', warmupRatio: 0, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, maxGradNorm: 1 },
  training: { epochs: 1, batchSize: 1, gradAccum: 1, maxLength: 48, lossOn: 'completion', seed: 42 },
  eval: { split: 0, seed: 42 },
  promptFormat: 'qmd-v4',
};

const step = (n: number, of = 4): TrainStep => ({ step: n, of, epoch: 0, loss: 3 - n / 10, lr: 1e-3, gradNorm: 0.5, tokens: 12, tokensPerSecond: 6, seconds: 2 * n });

const run = (id: string, started: number, change: Partial<TrainRunRecord> = {}): TrainRunRecord => ({
  id, status: 'running', model: 'test/tiny-qwen3', dataset: { id: 'd1', name: 'rows.jsonl' },
  settings: { config, maxSteps: 4, checkpointEvery: 1, validateEvery: null },
  started, updated: started, totalSteps: null, metrics: [], checkpointStep: null, validationLoss: null, note: '', ...change,
});

/** A checkpoint after `steps` steps, its tensors filled with `fill`. */
const checkpoint = (steps: number, fill: number): TrainingCheckpoint => ({
  version: 1, config, maxSteps: 4, totalSteps: 4, lora: { r: 2, alpha: 4, targets: ['q_proj'], useRslora: false, dropout: 0, baseModel: null },
  position: { epoch: 0, batch: steps }, data: { examples: 4, fingerprint: '0123456789abcdef' },
  metrics: Array.from({ length: steps }, (_, i) => step(i + 1)),
  state: { step: steps, tensors: { 'lora_a.0.q_proj': new Float32Array([fill, fill + 1]), 'm.lora_a.0.q_proj': new Float32Array([fill / 2, 0]) } },
});

describe('the training-run store', () => {
  it('keeps only the latest checkpoint of a run, written with the record that names it, and deletes both together', async () => {
    const db = await fresh();
    const a = run('a', 10);
    await putTrainRun(db, a);
    await saveTrainCheckpoint(db, recordStep(a, step(1)), checkpoint(1, 1));
    const written = await saveTrainCheckpoint(db, recordStep(recordStep(a, step(1)), step(2)), checkpoint(2, 5));
    expect(written.checkpointStep).toBe(2);
    expect(await db.count('trainCheckpoints')).toBe(1);
    const stored = await readTrainCheckpoint(db, 'a');
    expect(stored?.state.step).toBe(2);
    // Float32Arrays come back as Float32Arrays, value for value.
    expect(stored?.state.tensors['lora_a.0.q_proj']).toEqual(new Float32Array([5, 6]));
    expect((await getTrainRun(db, 'a'))?.checkpointStep).toBe(2);

    // A record written alone (a later step) keeps the checkpoint step the stored checkpoint holds.
    await putTrainRun(db, { ...recordStep(written, step(3)), checkpointStep: null });
    expect(await getTrainRun(db, 'a')).toMatchObject({ checkpointStep: 2, metrics: [step(1), step(2), step(3)] });

    await putTrainRun(db, run('b', 20));
    expect((await listTrainRuns(db)).map((r) => r.id)).toEqual(['b', 'a']);
    await deleteTrainRun(db, 'a');
    expect(await getTrainRun(db, 'a')).toBeNull();
    expect(await readTrainCheckpoint(db, 'a')).toBeNull();
    expect(await db.count('trainCheckpoints')).toBe(0);
    db.close();
  });

  it('a failed checkpoint write leaves the record and the checkpoint before it as they were', async () => {
    const db = await fresh();
    const a = run('a', 10);
    await saveTrainCheckpoint(db, recordStep(a, step(1)), checkpoint(1, 1));
    // A function cannot be cloned: the put of the checkpoint fails, and the transaction with it.
    const bad = { ...checkpoint(2, 5), config: { ...config, promptFormat: (() => 'x') as unknown as string } };
    await expect(saveTrainCheckpoint(db, recordStep(recordStep(a, step(1)), step(2)), bad)).rejects.toThrow();
    expect((await getTrainRun(db, 'a'))?.checkpointStep).toBe(1);
    expect((await getTrainRun(db, 'a'))?.metrics.map((s) => s.step)).toEqual([1]);
    expect((await readTrainCheckpoint(db, 'a'))?.state.step).toBe(1);
    db.close();
  });

  it('marks interrupted the runs stored as running that no page runs, and only those', async () => {
    const db = await fresh();
    await saveTrainCheckpoint(db, recordStep(recordStep(run('lost', 1), step(1)), step(2)), checkpoint(2, 1));
    await putTrainRun(db, run('alive', 2));
    await putTrainRun(db, run('early', 3));
    await putTrainRun(db, run('done', 4, { status: 'finished' }));
    const asked: string[] = [];
    const marked = await markInterrupted(db, (id) => (asked.push(id), id === 'alive'), 99);
    expect(marked.sort()).toEqual(['early', 'lost']);
    expect(asked.sort()).toEqual(['alive', 'early', 'lost']);
    const byId = Object.fromEntries((await listTrainRuns(db)).map((r) => [r.id, r]));
    expect(byId.lost).toMatchObject({ status: 'interrupted', updated: 99, checkpointStep: 2 });
    expect(byId.lost!.note).toBe('the page running it went away (a reload, a closed tab or a crash) after step 2; it resumes from the checkpoint of step 2');
    expect(byId.early!.note).toContain('it has no checkpoint to resume from');
    expect(byId.alive!.status).toBe('running');
    expect(byId.done!.status).toBe('finished');
    expect(await markInterrupted(db, () => false)).toEqual(['alive']);
    db.close();
  });
});

describe('resume bookkeeping', () => {
  const here = { model: 'test/tiny-qwen3', datasetStored: true };
  const paused = run('a', 1, { status: 'paused', checkpointStep: 2, metrics: [step(1), step(2), step(3)] });

  it('resumes a paused, interrupted or failed run with a checkpoint on the same model and dataset', () => {
    for (const status of ['paused', 'interrupted', 'failed'] as const) expect(resumeRefusal({ ...paused, status }, checkpoint(2, 0), here)).toBeNull();
  });

  it('names what is missing or differs', () => {
    expect(resumeRefusal({ ...paused, status: 'finished' }, checkpoint(2, 0), here)).toBe('the run is finished: only a paused, interrupted or failed run resumes');
    expect(resumeRefusal({ ...paused, status: 'running' }, checkpoint(2, 0), here)).toMatch(/^the run is running/);
    expect(resumeRefusal(paused, null, here)).toBe('the run has no checkpoint (it ended before its first one was written): start it again');
    expect(resumeRefusal(paused, checkpoint(4, 0), here)).toBe('its checkpoint already holds the last step (4)');
    expect(resumeRefusal(paused, checkpoint(2, 0), { ...here, model: null })).toBe('no model is loaded: load test/tiny-qwen3 in the Playground to resume it');
    expect(resumeRefusal(paused, checkpoint(2, 0), { ...here, model: 'Qwen/Qwen3-0.6B' })).toBe(
      'it trained on test/tiny-qwen3, and the loaded model is Qwen/Qwen3-0.6B: load test/tiny-qwen3 to resume it',
    );
    expect(resumeRefusal(paused, checkpoint(2, 0), { ...here, datasetStored: false })).toBe('its dataset rows.jsonl was deleted, and with it the rows it trained on: start a new run');
  });

  it('a resumed record runs from the checkpoint: the steps after it are dropped (they run again)', () => {
    const resumed = resumedRecord({ ...paused, note: 'paused after step 3' }, checkpoint(2, 0), 50);
    expect(resumed).toMatchObject({ status: 'running', updated: 50, totalSteps: 4, note: '', checkpointStep: 2 });
    expect(resumed.metrics).toEqual([step(1), step(2)]);
    // Step 3 again replaces what is stored from step 3 on.
    expect(recordStep({ ...paused }, { ...step(3), loss: 9 }, 60).metrics.map((s) => [s.step, s.loss])).toEqual([[1, 2.9], [2, 2.8], [3, 9]]);
    expect(endedRecord(resumed, 'finished', 'trained 4 of 4 steps', 1.5, 70)).toMatchObject({ status: 'finished', note: 'trained 4 of 4 steps', validationLoss: 1.5, updated: 70 });
  });
});
