// What the GRPO page says about a run in flight: the line under Start (the phase, the graph being
// built, the completion being sampled, the micro-batch of the update, or what a cancel or pause
// waits for) and the pace (s/step, generated tokens/s, time left). Pure, tested without a page.
import type { GrpoPhase, GrpoProgress, GrpoStep } from '../engine/grpo-protocol.ts';
import { graphLine, trainPace, type TrainPace } from './train-progress.ts';

/** 'prompts': reading the prompts; 'merge': the SFT adapter being loaded and merged; then the worker's phases. */
export type GrpoRunPhase = 'prompts' | 'merge' | GrpoPhase | 'steps';

export interface GrpoRunView {
  phase: GrpoRunPhase;
  progress: GrpoProgress | null;
  /** Steps completed so far. */
  done: number;
  stopping: boolean;
  pausing: boolean;
}

/** What the latest sub-progress is about, in a few words (a pause names it: the step can be long). */
function doing(p: GrpoProgress): string {
  if (p.kind === 'graph') return `graph ${p.index} of ${p.of}`;
  return p.kind === 'generation' ? `completion ${p.index} of ${p.of}` : `micro-batch ${p.index} of ${p.of}`;
}

export function grpoProgressLine(run: GrpoRunView): string {
  const { progress: p, phase, done } = run;
  const step = done + 1;
  if (run.stopping) return phase === 'export' ? 'Cancelling — the steps are done; reading the adapter back…' : `Cancelling — stopping before step ${step} completes: ${done > 0 ? `the adapter of step ${done} is kept` : 'nothing is trained'}…`;
  if (run.pausing) return `Pausing — finishing step ${step}${p ? ` (${doing(p)})` : ''}, then storing its checkpoint; Resume continues from there…`;
  if (phase === 'prompts') return 'Reading the prompts…';
  if (phase === 'merge') return 'Merging the SFT adapter into the weights on the GPU…';
  if (phase === 'export') return 'Reading the adapter back…';
  if (p?.kind === 'graph') return `Step ${step}: ${graphLine(p)}`;
  if (p?.kind === 'generation') return `Step ${p.step}: sampling and scoring completion ${p.index} of ${p.of}${p.step === 1 ? ' (the first run compiles the GPU shaders)' : ''}…`;
  if (p?.kind === 'micro-batch') return `Step ${p.step}: reference pass and update, micro-batch ${p.index} of ${p.of}…`;
  if (phase === 'generation') return `Step ${step}: sampling completions…`;
  if (phase === 'update') return `Step ${step}: updating the adapter…`;
  return phase === 'compile' ? 'Preparing step 1…' : 'Training…';
}

/** The pace readout, tokens being the completion tokens generated (step 1, which builds the graphs, left out). */
export function grpoPace(steps: readonly GrpoStep[], sinceMark: number): TrainPace | null {
  const timed = steps.map((s) => ({ step: s.step, of: s.of, seconds: s.seconds, tokens: s.completionTokens * s.groups.reduce((n, g) => n + g.completions.length, 0) }));
  return trainPace(timed, { sinceMark, validationBatches: 0, microBatchesPerStep: 1 });
}
