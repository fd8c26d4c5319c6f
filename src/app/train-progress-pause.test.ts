import { describe, expect, it } from 'vitest';
import type { TrainResult } from '../engine/protocol.ts';
import { outcomeLine, pausingLine, progressLine, type RunView } from './train-progress.ts';

const view = (change: Partial<RunView>): RunView => ({ phase: 'steps', progress: null, done: 2, stopping: false, pausing: true, ...change });

describe('what a pause says', () => {
  it('names the step it waits for, and gives way to a cancel', () => {
    expect(progressLine(view({ progress: { kind: 'micro-batch', step: 3, totalSteps: 6, index: 1, of: 2 } }))).toBe(
      'Pausing — finishing step 3, then storing its checkpoint; Resume continues from there…',
    );
    expect(pausingLine(view({ phase: 'compile', done: 0 }))).toBe('Pausing — after step 1 completes and its checkpoint is stored…');
    expect(pausingLine(view({ phase: 'validation' }))).toBe('Pausing — finishing the validation pass, then stopping after step 2: its checkpoint is stored…');
    expect(progressLine(view({ stopping: true }))).toMatch(/^Cancelling — /);
    expect(progressLine(view({ pausing: false }))).toBe('Training…');
  });

  it('a paused outcome says its checkpoint is stored', () => {
    const step = { step: 2, of: 6, epoch: 0, loss: 1, lr: 1e-3, gradNorm: 1, tokens: 4, tokensPerSecond: 1, seconds: 2 };
    const result = { steps: [{ ...step, step: 1 }, step], stopped: true, paused: true, discarded: null, halt: null } as unknown as TrainResult;
    expect(outcomeLine(result)).toBe('Paused after step 2 of 6 — its checkpoint is stored: Resume in the runs table continues it');
    expect(outcomeLine({ ...result, paused: false })).toBe('Cancelled after step 2 of 6 — the adapter of step 2 is kept');
  });
});
