// One timed greedy generation with either engine, measured the same way: prefill = start → first
// new token (prompt forward + argmax), decode = first → last new token (N − 1 one-token forwards,
// each with its argmax). Both loops read the logits back to the host every step, so on WebGPU the
// clock includes the GPU work. Runs in Node and in the bench page.
import type { PreTrainedModel, Tensor } from '@huggingface/transformers';
import { generate, type Decoder } from '../../src/engine/generate.ts';
import { defaultSampling } from '../../src/engine/sampling.ts';

export interface Spec {
  promptIds: number[];
  newTokens: number;
  /** Timed runs after one untimed warm-up; the median is reported. */
  runs: number;
}

export interface EngineFailure {
  engine: string;
  error: string;
}

export interface Timing {
  prefillMs: number;
  decodeMs: number;
  prefillTokS: number;
  decodeTokS: number;
  ids: number[];
}

export interface EngineResult {
  engine: string;
  loadMs: number;
  runs: Timing[];
  median: Timing;
}

function timing(promptLength: number, start: number, stamps: number[], ids: number[]): Timing {
  const prefillMs = stamps[0]! - start;
  const decodeMs = stamps.at(-1)! - stamps[0]!;
  return { prefillMs, decodeMs, prefillTokS: (1000 * promptLength) / prefillMs, decodeTokS: (1000 * (stamps.length - 1)) / decodeMs, ids };
}

/** Our loop (src/engine/generate.ts) on a Qwen3Session, greedy, no stop tokens. */
export async function timeOurs(decoder: Decoder, spec: Spec): Promise<Timing> {
  const stamps: number[] = [];
  const start = performance.now();
  const { ids } = await generate(decoder, spec.promptIds, { ...defaultSampling, greedy: true, maxNewTokens: spec.newTokens, stopTokens: [] }, () =>
    stamps.push(performance.now()),
  );
  return timing(spec.promptIds.length, start, stamps, ids);
}

/** transformers.js `generate`, greedy; min_new_tokens keeps it from stopping early on <|im_end|>. */
export async function timeTransformers(model: PreTrainedModel, tensor: typeof Tensor, spec: Spec): Promise<Timing> {
  const stamps: number[] = [];
  let prompt = true;
  const streamer = {
    // The first put() is the prompt itself, then one per new token.
    put: () => (prompt ? (prompt = false) : stamps.push(performance.now())),
    end: () => {},
  };
  const ids = BigInt64Array.from(spec.promptIds, BigInt);
  const start = performance.now();
  const out = (await model.generate({
    input_ids: new tensor('int64', ids, [1, ids.length]),
    attention_mask: new tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
    max_new_tokens: spec.newTokens,
    min_new_tokens: spec.newTokens,
    do_sample: false,
    streamer: streamer as never,
  })) as Tensor;
  return timing(spec.promptIds.length, start, stamps, Array.from(out.data as BigInt64Array, Number).slice(ids.length));
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** An engine ready to time: `once` is one timed generation. */
export interface Contender {
  engine: string;
  loadMs: number;
  once: () => Promise<Timing>;
}

function summary(c: Contender, spec: Spec, runs: Timing[]): EngineResult {
  const prefillMs = median(runs.map((r) => r.prefillMs));
  const decodeMs = median(runs.map((r) => r.decodeMs));
  return {
    engine: c.engine,
    loadMs: c.loadMs,
    runs,
    median: { prefillMs, decodeMs, prefillTokS: (1000 * spec.promptIds.length) / prefillMs, decodeTokS: (1000 * (spec.newTokens - 1)) / decodeMs, ids: runs[0]!.ids },
  };
}

/**
 * One warm-up each, then `spec.runs` rounds of one timed run per engine, in turn: on a machine
 * shared with other jobs a load swing then hits every engine alike instead of one engine's whole
 * block. Prefill and decode medians are taken separately.
 */
export async function measure(contenders: readonly Contender[], spec: Spec): Promise<EngineResult[]> {
  for (const c of contenders) await c.once();
  const runs = contenders.map((): Timing[] => []);
  for (let i = 0; i < spec.runs; i++) for (const [k, c] of contenders.entries()) runs[k]!.push(await c.once());
  return contenders.map((c, k) => summary(c, spec, runs[k]!));
}
