import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { openLab, type DatasetMeta, type GrpoRunRecord, type TrainRunRecord } from '../data/db.ts';
import { getTrainRun, listTrainRuns, markInterrupted, putTrainRun, readTrainCheckpoint, recordStep, saveTrainCheckpoint, deleteTrainRun } from '../data/train-runs.ts';
import type { GrpoCheckpoint, GrpoHalt, GrpoStep } from '../engine/grpo-protocol.ts';
import { defaultGrpoSettings } from './grpo-settings.ts';
import {
  builtinSetId, getGrpoRun, grpoEndedRecord, grpoOutcomeLine, grpoPrompts, grpoResumedRecord, grpoResumeRefusal, grpoStatus, listGrpoRuns, storedGrpoCheckpoint,
} from './grpo-runs.ts';

let dbCount = 0;
const fresh = () => openLab(`grpo-runs-test-${++dbCount}-${Date.now()}`);
const { config, guard } = defaultGrpoSettings();

const step = (n: number, of = 3): GrpoStep => ({
  step: n, of, loss: 0.1, lr: 5e-7, gradNorm: 0.3, reward: 0.5 + n / 10, rewardScore: 0.5, evalScore: 50, hardFailRate: 0, kl: 0.01, completionTokens: 8,
  zeroSpread: 0, generationSeconds: 2, updateSeconds: 1, seconds: 3 * n,
  groups: [{ query: 'nginx proxy', completions: [{ text: 'lex: nginx', reward: 0.6, rewardScore: 0.6, evalScore: 60, hardFail: false, advantage: 0.7, kl: 0.01, tokens: 8, truncated: false }] }],
});

const run = (id: string, started: number, change: Partial<GrpoRunRecord> = {}): GrpoRunRecord => ({
  kind: 'grpo', id, status: 'running', model: 'test/tiny-qwen3', prompts: { from: 'dataset', id: 'd1', name: 'rows.jsonl' }, sft: null,
  settings: { config, guard, checkpointEvery: 1 }, started, updated: started, totalSteps: null, metrics: [], checkpointStep: null, halt: null, note: '', ...change,
});

const sftRun = (id: string, started: number): TrainRunRecord => ({
  id, status: 'finished', model: 'test/tiny-qwen3', dataset: { id: 'd1', name: 'rows.jsonl' }, settings: { config: config.train, maxSteps: 2, checkpointEvery: 1, validateEvery: null },
  started, updated: started, totalSteps: 2, metrics: [], checkpointStep: null, validationLoss: null, note: '',
});

const checkpoint = (steps: number, fill: number): GrpoCheckpoint => ({
  version: 1, kind: 'grpo', config, guard, maxSteps: 3, totalSteps: 3, lora: { r: 4, alpha: 8, targets: ['q_proj', 'v_proj'], useRslora: false, dropout: 0.05, baseModel: null },
  data: { examples: 4, fingerprint: '0123456789abcdef' }, sft: null, metrics: Array.from({ length: steps }, (_, i) => step(i + 1)),
  state: { step: steps, tensors: { 'lora_a.0.q_proj': new Float32Array([fill, fill + 1]) } },
});

const halt: GrpoHalt = { rule: 'hard-fail-rate', message: 'hard-fail rate 75 % over the last 8 groups is over the bound 25 %', step: 3, rolledBackTo: 2, groups: [] };

describe('GRPO runs in the training-run store', () => {
  it('share the stores with SFT runs, each listing and reading its own kind', async () => {
    const db = await fresh();
    await putTrainRun(db, run('g', 10));
    await putTrainRun(db, sftRun('s', 20));
    await putTrainRun(db, run('g2', 30));
    expect((await listGrpoRuns(db)).map((r) => r.id)).toEqual(['g2', 'g']);
    expect((await listTrainRuns(db)).map((r) => r.id)).toEqual(['s']);
    expect(await getTrainRun(db, 'g')).toBeNull();
    expect(await getGrpoRun(db, 's')).toBeNull();
    expect((await getGrpoRun(db, 'g'))?.prompts.name).toBe('rows.jsonl');

    const written = await saveTrainCheckpoint(db, recordStep(run('g', 10), step(1)), checkpoint(1, 4));
    expect(written).toMatchObject({ kind: 'grpo', checkpointStep: 1, totalSteps: 3 });
    expect((await storedGrpoCheckpoint(db, 'g'))?.state.tensors['lora_a.0.q_proj']).toEqual(new Float32Array([4, 5]));
    // The SFT reader never hands a GRPO checkpoint to the SFT resume.
    expect(await readTrainCheckpoint(db, 'g')).toBeNull();
    expect(await storedGrpoCheckpoint(db, 's')).toBeNull();
    // A record written alone keeps the stored checkpoint's step; its groups come back whole.
    await putTrainRun(db, { ...recordStep(written, step(2)), checkpointStep: null });
    expect(await getGrpoRun(db, 'g')).toMatchObject({ checkpointStep: 1, metrics: [step(1), step(2)] });

    await deleteTrainRun(db, 'g');
    expect(await getGrpoRun(db, 'g')).toBeNull();
    expect(await db.count('trainCheckpoints')).toBe(0);
    db.close();
  });

  it('are marked interrupted like SFT runs when no page holds them', async () => {
    const db = await fresh();
    await putTrainRun(db, run('lost', 1, { checkpointStep: null }));
    await saveTrainCheckpoint(db, recordStep(run('kept', 2), step(1)), checkpoint(1, 1));
    await putTrainRun(db, run('alive', 3));
    expect((await markInterrupted(db, (id) => id === 'alive', 99)).sort()).toEqual(['kept', 'lost']);
    const byId = Object.fromEntries((await listGrpoRuns(db)).map((r) => [r.id, r]));
    expect(byId['kept']).toMatchObject({ kind: 'grpo', status: 'interrupted', updated: 99 });
    expect(byId['kept']!.note).toContain('it resumes from the checkpoint of step 1');
    expect(byId['lost']!.note).toContain('it has no checkpoint to resume from');
    expect(byId['alive']!.status).toBe('running');
    db.close();
  });
});

describe('the prompts of a GRPO run', () => {
  it("are a dataset's queries with their intent (its completions unread), or a query set's", async () => {
    const db = await fresh();
    const meta: DatasetMeta = { id: 'd1', name: 'rows.jsonl', rows: 2, formats: { structured: 2 }, rejected: 0, created: 1, source: 'rows.jsonl', complete: true, validation: { ratio: 0.1, seed: 42 } };
    await db.put('datasets', meta);
    await db.put('rows', { datasetId: 'd1', index: 0, line: 1, format: 'structured', query: 'nginx proxy', completion: 'lex: nginx', original: {} });
    await db.put('rows', { datasetId: 'd1', index: 1, line: 3, format: 'structured', query: 'auth', completion: 'lex: auth', intent: 'web apps', original: {} });
    await db.put('querySets', { id: 'qs', name: 'mine', queries: ['a', 'b'], created: 1 });
    expect(await grpoPrompts(db, { from: 'dataset', id: 'd1' })).toEqual([
      { query: 'nginx proxy', line: 1 },
      { query: 'auth', intent: 'web apps', line: 3 },
    ]);
    expect(await grpoPrompts(db, { from: 'query-set', id: 'qs' })).toEqual([{ query: 'a' }, { query: 'b' }]);
    expect((await grpoPrompts(db, { from: 'query-set', id: builtinSetId('QMD eval') }))!.length).toBe(21);
    expect(await grpoPrompts(db, { from: 'dataset', id: 'gone' })).toBeNull();
    expect(await grpoPrompts(db, { from: 'query-set', id: 'gone' })).toBeNull();
    db.close();
  });
});

describe('the bookkeeping of a GRPO run', () => {
  const here = { model: 'test/tiny-qwen3', promptsStored: true, sftStored: true };

  it('resumes a paused, interrupted, failed or halted run with a checkpoint short of the end, on its model, prompts and SFT adapter', () => {
    const paused = run('a', 1, { status: 'interrupted', sft: { id: 'sft1', name: 'v4 SFT' } });
    expect(grpoResumeRefusal(paused, checkpoint(1, 0), here)).toBeNull();
    expect(grpoResumeRefusal({ ...paused, status: 'finished' }, checkpoint(1, 0), here)).toBe('the run is finished: only a paused, interrupted, failed or halted run resumes');
    expect(grpoResumeRefusal({ ...paused, status: 'halted' }, checkpoint(1, 0), here)).toBeNull();
    expect(grpoResumeRefusal(paused, null, here)).toMatch(/has no checkpoint/);
    expect(grpoResumeRefusal(paused, checkpoint(3, 0), here)).toBe('its checkpoint already holds the last step (3)');
    expect(grpoResumeRefusal(paused, checkpoint(1, 0), { ...here, model: null })).toBe('no model is loaded: load test/tiny-qwen3 in the Playground to resume it');
    expect(grpoResumeRefusal(paused, checkpoint(1, 0), { ...here, model: 'other' })).toMatch(/the loaded model is other/);
    expect(grpoResumeRefusal(paused, checkpoint(1, 0), { ...here, promptsStored: false })).toBe('its prompts (rows.jsonl) are no longer stored: start a new run');
    expect(grpoResumeRefusal(paused, checkpoint(1, 0), { ...here, sftStored: false })).toMatch(/its SFT adapter v4 SFT was deleted/);
    // No SFT adapter: nothing to have been deleted.
    expect(grpoResumeRefusal({ ...paused, sft: null }, checkpoint(1, 0), { ...here, sftStored: false })).toBeNull();
  });

  it('cuts a resumed history to the checkpoint and clears what the last end said', () => {
    const ended = grpoEndedRecord(recordStep(recordStep(run('a', 1), step(1)), step(2)), 'halted', 'guard', halt, 50);
    expect(ended).toMatchObject({ status: 'halted', note: 'guard', halt, updated: 50 });
    const resumed = grpoResumedRecord(ended, checkpoint(1, 0), 60);
    expect(resumed).toMatchObject({ status: 'running', note: '', halt: null, updated: 60, totalSteps: 3 });
    expect(resumed.metrics.map((s) => s.step)).toEqual([1]);
  });

  it('says how a run ended, a halt first', () => {
    const steps = [step(1), step(2)];
    expect(grpoOutcomeLine({ steps, halt: null, paused: false, stopped: false })).toBe('Trained 2 of 3 steps');
    expect(grpoOutcomeLine({ steps, halt: null, paused: true, stopped: true })).toMatch(/^Paused after step 2 of 3/);
    expect(grpoOutcomeLine({ steps, halt: null, paused: false, stopped: true })).toBe('Cancelled after step 2 of 3 — the adapter of step 2 is kept');
    expect(grpoOutcomeLine({ steps, halt, paused: false, stopped: true })).toBe('Stopped by the drift guard at step 3 of 3, rolled back to step 2');
    expect(grpoOutcomeLine({ steps, halt: { ...halt, rolledBackTo: 0 }, paused: false, stopped: true })).toMatch(/rolled back to the fresh adapter$/);
    expect([grpoStatus({ halt, paused: false, stopped: true }), grpoStatus({ halt: null, paused: true, stopped: true }), grpoStatus({ halt: null, paused: false, stopped: true }), grpoStatus({ halt: null, paused: false, stopped: false })])
      .toEqual(['halted', 'paused', 'stopped', 'finished']);
  });
});
