// An eval run: every chosen variant (the base model and/or loaded adapters) expands every query
// of a set through the engine, one generate request at a time, and each variant becomes one
// stored result. The runner saves after every generation (RunOptions.onStep), so a run that is
// cancelled, fails or is cut off by a reload keeps what it finished, marked partial.
//
// Samples per query: with `samplesPerQuery` = S > 1, each query is generated S times and every
// sample is its own result item (the query repeated S times in a row). Sample k (0-based) runs
// with seed `seed + k`, the same for every query and every variant, so a run with a fixed seed
// is reproducible item for item, and sample k of two results lines up (compareResults pairs the
// k-th occurrence of a query in one result with the k-th in the other).
import type { EvalResult, GenerationSettings } from '../data/db.ts';
import type { CallOptions } from '../engine/client.ts';
import { EngineError, type GenerationResult, type Request, type SamplingRequest } from '../engine/protocol.ts';
import { makeResult, type ExpansionPair } from '../share/result.ts';

type GenerateRequest = Extract<Request, { type: 'generate' }>;

/** The part of EngineClient a run uses. */
export interface GenerateClient {
  call(request: GenerateRequest, options?: CallOptions): Promise<GenerationResult>;
}

export interface EvalVariant {
  /** Loaded adapter id; null for the base model. */
  adapter: string | null;
  /** What results and progress call it: the adapter's name, or "base". */
  label: string;
}

export interface EvalPlan {
  queries: readonly string[];
  variants: readonly EvalVariant[];
  sampling: SamplingRequest;
  samplesPerQuery: number;
}

export interface EvalStep {
  /** Index into the plan's variants. */
  variant: number;
  query: string;
  /** 0-based sample of this query. */
  sample: number;
  sampling: SamplingRequest;
}

export interface EvalProgress {
  /** Finished steps. */
  done: number;
  total: number;
  /** The step generating now; null once the run has ended. */
  step: EvalStep | null;
  /** Tokens generated so far, all steps together. */
  tokens: number;
  /** The engine's decode rate for the current (or last) generation. */
  tokensPerSecond: number;
  elapsedSeconds: number;
  /** Mean seconds per finished step × steps left; null before the first step ends. */
  etaSeconds: number | null;
}

export interface EvalOutput {
  variant: EvalVariant;
  /** In plan order: query by query, samples of a query together. */
  pairs: ExpansionPair[];
  /** Pairs the plan has for this variant: fewer in `pairs` means the run stopped early. */
  planned: number;
}

export interface RunOptions {
  signal?: AbortSignal;
  onProgress?: (progress: EvalProgress) => void;
  /** After each finished generation, awaited before the next one starts: where a run saves what it has. */
  onStep?: (outputs: readonly EvalOutput[]) => Promise<void>;
  /** Milliseconds; `performance.now` unless a test drives the clock. */
  now?: () => number;
}

/** The seed of sample `sample` (0-based) of every query: seed + sample. */
export function sampleSeed(seed: number, sample: number): number {
  if (!Number.isInteger(seed)) throw new Error(`eval run: seed must be an integer, got ${seed}`);
  return seed + sample;
}

function checkPlan({ queries, variants, samplesPerQuery }: EvalPlan): void {
  if (queries.length === 0) throw new Error('eval run: the query set has no queries');
  if (variants.length === 0) throw new Error('eval run: choose the base model or at least one adapter');
  if (!Number.isInteger(samplesPerQuery) || samplesPerQuery < 1) {
    throw new Error(`eval run: samples per query must be an integer ≥ 1, got ${samplesPerQuery}`);
  }
}

/** Every generate request of the plan, in run order: variant by variant, query by query, sample by sample. */
export function planSteps(plan: EvalPlan): EvalStep[] {
  checkPlan(plan);
  const steps: EvalStep[] = [];
  plan.variants.forEach((_, variant) => {
    for (const query of plan.queries) {
      for (let sample = 0; sample < plan.samplesPerQuery; sample++) {
        steps.push({ variant, query, sample, sampling: { ...plan.sampling, seed: sampleSeed(plan.sampling.seed, sample) } });
      }
    }
  });
  return steps;
}

/**
 * Runs the plan; resolves with one output per variant. Aborting `signal` cancels the generate
 * in flight (the client forwards the abort to the worker) and rejects with a `cancelled` EngineError.
 */
export async function runEval(client: GenerateClient, plan: EvalPlan, options: RunOptions = {}): Promise<EvalOutput[]> {
  const { signal, onProgress, onStep, now = () => performance.now() } = options;
  const steps = planSteps(plan);
  const planned = plan.queries.length * plan.samplesPerQuery;
  const outputs: EvalOutput[] = plan.variants.map((variant) => ({ variant, pairs: [], planned }));
  const started = now();
  const progress: EvalProgress = { done: 0, total: steps.length, step: null, tokens: 0, tokensPerSecond: 0, elapsedSeconds: 0, etaSeconds: null };
  const report = (step: EvalStep | null) => {
    progress.step = step;
    progress.elapsedSeconds = (now() - started) / 1000;
    onProgress?.({ ...progress });
  };
  for (const step of steps) {
    if (signal?.aborted) throw new EngineError('cancelled', `eval run cancelled after ${progress.done} of ${steps.length} generations`);
    report(step);
    const variant = plan.variants[step.variant]!;
    const result = await client.call(
      { type: 'generate', query: step.query, adapter: variant.adapter, sampling: step.sampling },
      {
        signal,
        onEvent: (event) => {
          if (event.type !== 'token') return;
          progress.tokens += 1;
          progress.tokensPerSecond = event.tokensPerSecond;
          report(step);
        },
      },
    );
    outputs[step.variant]!.pairs.push({ query: step.query, expansion: result.text });
    await onStep?.(outputs);
    progress.done += 1;
    progress.tokensPerSecond = result.tokensPerSecond;
    const elapsed = (now() - started) / 1000;
    progress.etaSeconds = (elapsed / progress.done) * (steps.length - progress.done);
  }
  report(null);
  return outputs;
}

/** The settings a result records; greedy is stored as temperature 0 (the limit greedy decoding is). */
export function runSettings(sampling: SamplingRequest, samplesPerQuery: number): GenerationSettings {
  return {
    temperature: sampling.greedy ? 0 : sampling.temperature,
    topK: sampling.topK,
    topP: sampling.topP,
    maxNewTokens: sampling.maxNewTokens,
    seed: sampling.seed,
    samplesPerQuery,
  };
}

const pad = (n: number) => String(n).padStart(2, '0');

/** "model · adapter · set · 2026-11-05 14:03" (local time). */
export function runResultName(model: string, variant: string, set: string, date: Date): string {
  const day = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  return [model, variant, set, `${day} ${pad(date.getHours())}:${pad(date.getMinutes())}`].join(' · ');
}

export interface RunContext {
  /** The loaded base model's name. */
  model: string;
  /** The query set's name. */
  set: string;
  profile: EvalResult['profile'];
  sampling: SamplingRequest;
  samplesPerQuery: number;
  /** When the run started: every save of its results keeps it as their creation time. */
  date: Date;
  /** The results' ids, one per variant, so that each save during a run replaces the last; fresh ids without. */
  ids?: readonly string[];
}

/**
 * One scored result per variant that has pairs, `origin: 'run'`, marked `partial` while it has
 * fewer pairs than planned.
 */
export function runResults(outputs: readonly EvalOutput[], context: RunContext): EvalResult[] {
  const settings = runSettings(context.sampling, context.samplesPerQuery);
  return outputs.flatMap(({ variant, pairs, planned }, i) => {
    if (pairs.length === 0) return [];
    const result = makeResult({
      name: runResultName(context.model, variant.label, context.set, context.date),
      model: { base: context.model, adapter: variant.adapter === null ? null : variant.label },
      profile: context.profile,
      settings,
      pairs,
      origin: 'run',
    });
    const partial = pairs.length < planned ? { partial: { done: pairs.length, total: planned } } : {};
    return [{ ...result, id: context.ids?.[i] ?? result.id, created: context.date.getTime(), ...partial }];
  });
}
