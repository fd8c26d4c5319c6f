import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { openLab, type TrainRunRecord } from '../../data/db.ts';
import { endedRecord, getTrainRun, readTrainCheckpoint } from '../../data/train-runs.ts';
import type { TrainingCheckpoint } from '../../engine/checkpoint.ts';
import type { TrainStep } from '../../engine/protocol.ts';
import { defaultSettings } from './settings.ts';
import { RunLog } from './run-log.ts';

let dbCount = 0;
const fresh = () => openLab(`run-log-test-${++dbCount}-${Date.now()}`);
const { config } = defaultSettings();

const step = (n: number): TrainStep => ({ step: n, of: 3, epoch: 0, loss: 2 - n / 10, lr: 1e-3, gradNorm: 1, tokens: 10, tokensPerSecond: 5, seconds: n });
const record: TrainRunRecord = {
  id: 'r1', status: 'running', model: 'test/tiny-qwen3', dataset: { id: 'd1', name: 'rows.jsonl' },
  settings: { config, maxSteps: 3, checkpointEvery: 1, validateEvery: null },
  started: 1, updated: 1, totalSteps: null, metrics: [], checkpointStep: null, validationLoss: null, note: '',
};
const checkpoint = (n: number) => ({ version: 1, config, maxSteps: 3, totalSteps: 3, metrics: [], state: { step: n, tensors: { a: new Float32Array([n]) } } }) as unknown as TrainingCheckpoint;

describe('RunLog', () => {
  it('stores steps and checkpoints in the order they came, and the end with the final validation loss on the last step', async () => {
    const db = await fresh();
    const seen: (number | null)[] = [];
    const log = new RunLog(db, record, (r) => seen.push(r.checkpointStep));
    await log.begin();
    log.step(step(1));
    log.checkpoint(checkpoint(1));
    log.step(step(2));
    log.checkpoint(checkpoint(2));
    log.step(step(3));
    const ended = await log.end((r) => endedRecord(r, 'finished', 'trained 3 of 3 steps', 1.25));
    expect(log.failure).toBeNull();
    expect(ended).toMatchObject({ status: 'finished', checkpointStep: 2, totalSteps: 3, validationLoss: 1.25 });
    expect(ended.metrics.map((s) => [s.step, s.validationLoss])).toEqual([[1, undefined], [2, undefined], [3, 1.25]]);
    expect(await getTrainRun(db, 'r1')).toEqual(ended);
    expect((await readTrainCheckpoint(db, 'r1'))?.state.step).toBe(2);
    // Steps and the end are told at once; a checkpoint only once it is stored.
    expect(seen).toEqual([null, null, null, null, 1, 2]);
    db.close();
  });

  it('a write that fails leaves the run going and says what was not stored', async () => {
    const db = await fresh();
    const log = new RunLog(db, record);
    await log.begin();
    log.step(step(1));
    log.checkpoint({ ...checkpoint(1), config: (() => 0) as unknown as TrainingCheckpoint['config'] });
    log.step(step(2));
    const ended = await log.end((r) => endedRecord(r, 'paused', 'paused after step 2'));
    expect(log.failure).toMatch(/^the checkpoint of step 1 was not stored in this browser: /);
    expect(ended.checkpointStep).toBeNull();
    expect(await getTrainRun(db, 'r1')).toMatchObject({ status: 'paused', checkpointStep: null, metrics: [step(1), step(2)] });
    db.close();
  });
});
