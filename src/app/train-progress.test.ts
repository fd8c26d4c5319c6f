import { describe, expect, it } from 'vitest';
import type { TrainProgress, TrainResult, TrainStep } from '../engine/protocol.ts';
import { cancellingLine, formatDuration, outcomeLine, progressLine, trainPace, type RunView } from './train-progress.ts';

/** Steps ending at `ends` seconds since the run started, `tokens` scored tokens each. */
const steps = (ends: number[], of: number, tokens = 100): TrainStep[] =>
  ends.map((seconds, i) => ({ step: i + 1, of, epoch: 0, loss: 1, lr: 1e-4, gradNorm: 1, tokens, tokensPerSecond: 0, seconds }));

const pace = { sinceMark: 0, validationBatches: 0, microBatchesPerStep: 1 };

describe('formatDuration', () => {
  it('reads seconds, minutes and hours', () => {
    expect([0.84, 9.96, 12.4, 59.6, 75, 3599, 7500].map(formatDuration)).toEqual(['0.8 s', '10 s', '12 s', '1 min 00 s', '1 min 15 s', '59 min 59 s', '2 h 05 min']);
    expect(formatDuration(NaN)).toBe('–');
  });
});

describe('trainPace', () => {
  it('has no ETA after step 1 alone: that step built the graphs', () => {
    expect(trainPace([], pace)).toBeNull();
    expect(trainPace(steps([300], 10), pace)).toEqual({ done: 1, total: 10, secondsPerStep: null, tokensPerSecond: null, etaSeconds: null });
  });

  it('averages the recent steps, step 1 left out, and counts down from the last step', () => {
    // Step 1 took 300 s (graph building), then 10, 12, 14 s.
    const run = steps([300, 310, 322, 336], 10);
    const p = trainPace(run, pace)!;
    expect(p.secondsPerStep).toBeCloseTo(12, 9);
    expect(p.tokensPerSecond).toBeCloseTo(300 / 36, 9);
    expect(p.etaSeconds).toBeCloseTo(6 * 12, 9);
    // 5 s into step 5, 5 s less to go; never below 0.
    expect(trainPace(run, { ...pace, sinceMark: 5 })!.etaSeconds).toBeCloseTo(6 * 12 - 5, 9);
    expect(trainPace(run, { ...pace, sinceMark: 1e6 })!.etaSeconds).toBe(0);
  });

  it('keeps a moving window of the last steps, so the average follows a change of pace', () => {
    const run = steps([100, 110, 120, 130, 140, 150, 152, 154, 156, 158, 160], 20);
    expect(trainPace(run, pace)!.secondsPerStep).toBeCloseTo(2, 9);
    expect(trainPace(run, { ...pace, window: 10 })!.secondsPerStep).toBeCloseTo(6, 9);
  });

  it('adds the validation pass, a batch costing about one micro-batch', () => {
    const run = steps([100, 108, 116], 4);
    // 1 step left at 8 s, 6 validation batches at 8 / 4 = 2 s each.
    expect(trainPace(run, { sinceMark: 0, validationBatches: 6, microBatchesPerStep: 4 })!.etaSeconds).toBeCloseTo(8 + 12, 9);
  });
});

const view = (phase: RunView['phase'], progress: TrainProgress | null, done = 0, stopping = false): RunView => ({ phase, progress, done, stopping });
const graph = (stage: 'building' | 'session' | 'ready', index = 2): TrainProgress => ({
  kind: 'graph',
  graph: 'train step for batch 2 × length 48 (64 loss positions)',
  index,
  of: 4,
  stage,
  ...(stage === 'building' ? {} : { buildSeconds: 0.42 }),
  ...(stage === 'ready' ? { sessionSeconds: 1.5 } : {}),
});
const micro = (step: number, index: number, of: number): TrainProgress => ({ kind: 'micro-batch', step, totalSteps: 6, index, of });

describe('progressLine', () => {
  it('says which graph is being built and what onnxruntime is doing with it', () => {
    expect(progressLine(view('compile', null))).toBe('Preparing step 1…');
    expect(progressLine(view('compile', graph('building')))).toBe('Step 1: building graph 2 of 4 (train step for batch 2 × length 48 (64 loss positions))…');
    expect(progressLine(view('compile', graph('session')))).toBe(
      'Step 1: creating the onnxruntime session for graph 2 of 4 (train step for batch 2 × length 48 (64 loss positions)); the graph took 0.4 s to build…',
    );
    expect(progressLine(view('steps', graph('ready'), 3))).toBe('Step 4: graph 2 of 4 (train step for batch 2 × length 48 (64 loss positions)) ready in 1.9 s…');
    expect(progressLine(view('validation', graph('building'), 6))).toMatch(/^Computing the validation loss: building graph 2 of 4/);
  });

  it('names the step, the micro-batch and the validation batch in flight', () => {
    expect(progressLine(view('compile', micro(1, 1, 4)))).toBe('Step 1 of 6: micro-batch 1 of 4 (the first run compiles the GPU shaders)…');
    expect(progressLine(view('steps', micro(3, 2, 4), 2))).toBe('Step 3 of 6: micro-batch 2 of 4…');
    expect(progressLine(view('steps', micro(3, 1, 1), 2))).toBe('Step 3 of 6…');
    expect(progressLine(view('validation', { kind: 'validation', index: 3, of: 12 }, 6))).toBe('Computing the validation loss: batch 3 of 12…');
    expect(progressLine(view('rows', null))).toBe('Reading the dataset…');
    expect(progressLine(view('export', null, 6))).toBe('Reading the adapter back…');
    // Samples run after step 4 completed and before it is listed (3 done).
    expect(progressLine(view('samples', { kind: 'sample', step: 4, index: 2, of: 4 }, 3))).toBe('Sampling the adapter after step 4: query 2 of 4…');
    expect(cancellingLine(view('samples', { kind: 'sample', step: 4, index: 2, of: 4 }, 3))).toBe('Cancelling — skipping the rest of the samples: the adapter of step 4 is kept…');
  });
});

describe('cancellingLine', () => {
  it('says at once what the cancel waits for and what is kept', () => {
    // The step's last micro-batch is in flight: its update follows, so that step is kept.
    expect(progressLine(view('steps', micro(3, 1, 1), 2, true))).toBe('Cancelling — finishing step 3 of 6, then stopping: the adapter of step 3 is kept…');
    expect(cancellingLine(view('steps', micro(3, 4, 4), 2))).toBe('Cancelling — finishing step 3 of 6, then stopping: the adapter of step 3 is kept…');
    expect(cancellingLine(view('steps', micro(3, 2, 4), 2))).toBe(
      'Cancelling — finishing micro-batch 2 of 4 of step 3, then stopping: the partial step is discarded and the adapter of step 2 is kept…',
    );
    expect(cancellingLine(view('compile', micro(1, 1, 2)))).toBe(
      'Cancelling — finishing micro-batch 1 of 2 of step 1, then stopping: the partial step is discarded and nothing is trained…',
    );
    expect(cancellingLine(view('compile', graph('building')))).toBe('Cancelling — finishing graph 2 of 4, then stopping before step 1: nothing is trained…');
    // Between steps (step 3 just ended, no micro-batch of step 4 yet).
    expect(cancellingLine(view('steps', null, 3))).toBe('Cancelling — stopping before step 4: the adapter of step 3 is kept…');
    expect(cancellingLine(view('validation', { kind: 'validation', index: 3, of: 12 }, 6))).toBe('Cancelling — skipping the rest of the validation pass…');
  });
});

describe('outcomeLine', () => {
  const result = (n: number, of: number, extra: Partial<TrainResult> = {}): TrainResult => ({
    steps: steps(Array.from({ length: n }, (_, i) => i + 1), of),
    stopped: false,
    paused: false,
    discarded: null,
    validationSkipped: false,
    halt: null,
    skipped: { train: [], validation: [] },
    maxLength: 48,
    validationLoss: null,
    validationRows: 0,
    adapterConfig: new Uint8Array(),
    adapterWeights: new Uint8Array(),
    adapter: { id: 'trained:1', name: 'trained adapter', rank: 2, alpha: 4, targets: ['q_proj'] },
    seconds: n,
    ...extra,
  });

  it('says where a cancel stopped and which adapter is kept', () => {
    expect(outcomeLine(result(6, 6))).toBe('Trained 6 of 6 steps');
    expect(outcomeLine(result(2, 6, { stopped: true }))).toBe('Cancelled after step 2 of 6 — the adapter of step 2 is kept');
    expect(outcomeLine(result(2, 6, { stopped: true, discarded: { step: 3, microBatches: 1, of: 4 } }))).toBe(
      'Cancelled during step 3 of 6, after 1 of its 4 micro-batches (that partial step is discarded) — the adapter of step 2 is kept',
    );
    expect(outcomeLine(result(2, 6, { halt: 'step 3 of 6: the loss is NaN' }))).toBe('Halted after 2 of 6 steps');
  });
});
