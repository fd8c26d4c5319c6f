// What the Train page says about a run in flight and how it ended: the line under Start (phase,
// graph being built, micro-batch, validation batch, or what a cancel is waiting for), the pace
// readout (steps, s/step, tokens/s, ETA) and the outcome line. Pure, so it is tested without a page.
import type { TrainPhase, TrainProgress, TrainResult, TrainStep } from '../engine/protocol.ts';

/** Where the page's run is: reading the dataset, then the worker's phases ('steps' once a step has ended). */
export type RunPhase = 'rows' | TrainPhase | 'steps';

export interface RunView {
  phase: RunPhase;
  /** The latest sub-progress from the worker (null until the first, and after each phase change). */
  progress: TrainProgress | null;
  /** Steps completed so far. */
  done: number;
  /** Cancel was pressed. */
  stopping: boolean;
  /** Pause was pressed (and Cancel not). */
  pausing?: boolean;
}

/** 0.8 → "0.8 s", 75 → "1 min 15 s", 7500 → "2 h 05 min". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  if (seconds < 9.95) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** "graph 2 of 4 (train step for …)", what a graph event is about. */
export function graphLine(p: Extract<TrainProgress, { kind: 'graph' }>): string {
  const which = `graph ${p.index} of ${p.of} (${p.graph})`;
  if (p.stage === 'building') return `building ${which}…`;
  if (p.stage === 'session') return `creating the onnxruntime session for ${which}; the graph took ${formatDuration(p.buildSeconds ?? 0)} to build…`;
  return `${which} ready in ${formatDuration((p.buildSeconds ?? 0) + (p.sessionSeconds ?? 0))}…`;
}

/** The line under Start while a run is in flight. */
export function progressLine(run: RunView): string {
  if (run.stopping) return cancellingLine(run);
  if (run.pausing) return pausingLine(run);
  const { progress: p, phase } = run;
  if (phase === 'rows') return 'Reading the dataset…';
  if (phase === 'export') return 'Reading the adapter back…';
  if (phase === 'validation') {
    if (p?.kind === 'graph') return `Computing the validation loss: ${graphLine(p)}`;
    return p?.kind === 'validation' ? `Computing the validation loss: batch ${p.index} of ${p.of}…` : 'Computing the validation loss…';
  }
  if (phase === 'samples') return p?.kind === 'sample' ? `Sampling the adapter after step ${p.step}: query ${p.index} of ${p.of}…` : 'Sampling the adapter…';
  if (p?.kind === 'graph') return `Step ${run.done + 1}: ${graphLine(p)}`;
  if (p?.kind === 'micro-batch') {
    const batches = p.of > 1 ? `: micro-batch ${p.index} of ${p.of}` : '';
    // The first run of each session compiles its GPU shaders, which dwarfs the step itself.
    const first = p.step === 1 ? ' (the first run compiles the GPU shaders)' : '';
    return `Step ${p.step} of ${p.totalSteps}${batches}${first}…`;
  }
  return phase === 'compile' ? 'Preparing step 1…' : 'Training…';
}

/** What a pause waits for: the step in flight completes and its checkpoint is stored. */
export function pausingLine(run: RunView): string {
  const { progress: p, phase, done } = run;
  if (phase === 'rows' || (phase === 'compile' && done === 0)) return `Pausing — after step ${done + 1} completes and its checkpoint is stored…`;
  if (phase === 'validation') return `Pausing — finishing the validation pass, then stopping after step ${done}: its checkpoint is stored…`;
  const step = p?.kind === 'micro-batch' ? p.step : done + 1;
  return `Pausing — finishing step ${step}, then storing its checkpoint; Resume continues from there…`;
}

/** What a cancel waits for, said the moment Cancel is pressed. */
export function cancellingLine(run: RunView): string {
  const { progress: p, phase, done } = run;
  const kept = done > 0 ? `the adapter of step ${done} is kept` : 'nothing is trained';
  if (phase === 'rows') return 'Cancelling — nothing is trained…';
  if (phase === 'export') return 'Cancelling — the steps are done; reading the adapter back…';
  if (phase === 'validation') return 'Cancelling — skipping the rest of the validation pass…';
  // Samples follow a completed step (not yet listed): its update is made and kept.
  if (phase === 'samples') return `Cancelling — skipping the rest of the samples: the adapter of step ${p?.kind === 'sample' ? p.step : done + 1} is kept…`;
  if (p?.kind === 'graph') return `Cancelling — finishing graph ${p.index} of ${p.of}, then stopping before step ${done + 1}: ${kept}…`;
  if (p?.kind === 'micro-batch' && p.step === done + 1) {
    // After a step's last micro-batch the update is made: that step completes and is kept.
    if (p.index === p.of) return `Cancelling — finishing step ${p.step} of ${p.totalSteps}, then stopping: the adapter of step ${p.step} is kept…`;
    return `Cancelling — finishing micro-batch ${p.index} of ${p.of} of step ${p.step}, then stopping: the partial step is discarded and ${kept}…`;
  }
  return `Cancelling — stopping before step ${done + 1}: ${kept}…`;
}

export interface TrainPace {
  done: number;
  total: number;
  /** Moving average over the last steps, step 1 excluded (it builds the graphs); null until step 2. */
  secondsPerStep: number | null;
  tokensPerSecond: number | null;
  /** Seconds until the steps and the validation pass are done; null until step 2. */
  etaSeconds: number | null;
}

export interface PaceOptions {
  /** Seconds since the last step ended (or, in the validation pass, since its current batch started). */
  sinceMark: number;
  /** Validation batches still to run (the one in flight included). */
  validationBatches: number;
  /** Micro-batches per step (grad accumulation): a validation batch costs about one of them. */
  microBatchesPerStep: number;
  /** Steps in the moving average. */
  window?: number;
}

export function trainPace(steps: readonly Pick<TrainStep, 'step' | 'of' | 'seconds' | 'tokens'>[], options: PaceOptions): TrainPace | null {
  const last = steps.at(-1);
  if (!last) return null;
  const window = options.window ?? 5;
  // Step i's duration is the gap to step i−1's end (steps are numbered from 1, in order).
  const recent = steps.slice(1).map((s, i) => ({ seconds: s.seconds - steps[i]!.seconds, tokens: s.tokens })).slice(-window);
  const pace: TrainPace = { done: last.step, total: last.of, secondsPerStep: null, tokensPerSecond: null, etaSeconds: null };
  if (recent.length === 0) return pace;
  const seconds = recent.reduce((n, r) => n + r.seconds, 0);
  pace.secondsPerStep = seconds / recent.length;
  pace.tokensPerSecond = recent.reduce((n, r) => n + r.tokens, 0) / Math.max(seconds, 1e-3);
  const work = pace.secondsPerStep * (last.of - last.step) + (pace.secondsPerStep / Math.max(1, options.microBatchesPerStep)) * options.validationBatches;
  pace.etaSeconds = Math.max(0, work - options.sinceMark);
  return pace;
}

/** "Trained 6 of 6 steps", "Cancelled during step 3 of 6 (…) — the adapter of step 2 is kept", "Halted …". */
export function outcomeLine(result: TrainResult): string {
  const last = result.steps.at(-1);
  const done = last?.step ?? 0;
  const of = last?.of ?? 0;
  if (result.halt) return `Halted after ${done} of ${of} steps`;
  if (result.paused) return `Paused after step ${done} of ${of} — its checkpoint is stored: Resume in the runs table continues it`;
  if (!result.stopped) return `Trained ${done} of ${of} steps`;
  const kept = `the adapter of step ${done} is kept`;
  const d = result.discarded;
  if (d) return `Cancelled during step ${d.step} of ${of}, after ${d.microBatches} of its ${d.of} micro-batches (that partial step is discarded) — ${kept}`;
  return `Cancelled after step ${done} of ${of} — ${kept}`;
}
