import { describe, expect, it } from 'vitest';
import type { GrpoStep } from '../engine/grpo-protocol.ts';
import { grpoPace, grpoProgressLine, type GrpoRunView } from './grpo-progress.ts';

const view = (change: Partial<GrpoRunView>): GrpoRunView => ({ phase: 'steps', progress: null, done: 0, stopping: false, pausing: false, ...change });

const step = (n: number, seconds: number): GrpoStep => ({
  step: n, of: 4, loss: 0, lr: 0, gradNorm: 0, reward: 0, rewardScore: 0, evalScore: 0, hardFailRate: 0, kl: 0, completionTokens: 5, zeroSpread: 0,
  generationSeconds: 0, updateSeconds: 0, seconds, groups: [{ query: 'q', completions: [0, 1].map(() => ({ text: '', reward: 0, rewardScore: 0, evalScore: 0, hardFail: false, advantage: 0, kl: 0, tokens: 5, truncated: false })) }],
});

describe('the GRPO progress line', () => {
  it('says what the step in flight is doing', () => {
    expect(grpoProgressLine(view({ phase: 'prompts' }))).toBe('Reading the prompts…');
    expect(grpoProgressLine(view({ phase: 'merge' }))).toBe('Merging the SFT adapter into the weights on the GPU…');
    expect(grpoProgressLine(view({ phase: 'generation', progress: { kind: 'generation', step: 2, index: 3, of: 8 }, done: 1 }))).toBe('Step 2: sampling and scoring completion 3 of 8…');
    expect(grpoProgressLine(view({ phase: 'generation', progress: { kind: 'generation', step: 1, index: 1, of: 2 } }))).toMatch(/compiles the GPU shaders/);
    expect(grpoProgressLine(view({ phase: 'update', progress: { kind: 'micro-batch', step: 2, index: 1, of: 2 }, done: 1 }))).toBe('Step 2: reference pass and update, micro-batch 1 of 2…');
    expect(grpoProgressLine(view({ phase: 'compile', progress: { kind: 'graph', graph: 'train step', index: 1, of: 3, stage: 'building' } }))).toBe('Step 1: building graph 1 of 3 (train step)…');
    expect(grpoProgressLine(view({ phase: 'export' }))).toBe('Reading the adapter back…');
  });

  it('says what a cancel or a pause waits for, the moment it is pressed', () => {
    expect(grpoProgressLine(view({ phase: 'generation', done: 0, stopping: true }))).toBe('Cancelling — stopping before step 1 completes: nothing is trained…');
    expect(grpoProgressLine(view({ phase: 'update', done: 2, stopping: true }))).toBe('Cancelling — stopping before step 3 completes: the adapter of step 2 is kept…');
    expect(grpoProgressLine(view({ phase: 'generation', done: 1, pausing: true }))).toBe('Pausing — finishing step 2, then storing its checkpoint; Resume continues from there…');
    expect(grpoProgressLine(view({ phase: 'generation', progress: { kind: 'generation', step: 2, index: 3, of: 4 }, done: 1, pausing: true }))).toBe(
      'Pausing — finishing step 2 (completion 3 of 4), then storing its checkpoint; Resume continues from there…',
    );
  });
});

describe('the GRPO pace', () => {
  it('times steps after the first, counting every generated token, and gives the time left', () => {
    expect(grpoPace([], 0)).toBeNull();
    expect(grpoPace([step(1, 30)], 0)).toMatchObject({ done: 1, total: 4, secondsPerStep: null, etaSeconds: null });
    const pace = grpoPace([step(1, 30), step(2, 40), step(3, 52)], 1)!;
    expect(pace.secondsPerStep).toBe(11);
    // 2 completions × 5 tokens per step over 22 s.
    expect(pace.tokensPerSecond).toBeCloseTo(20 / 22);
    expect(pace.etaSeconds).toBe(10);
  });
});
