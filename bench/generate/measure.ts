// One timed greedy generation with either engine, measured the same way: prefill = start → first
// new token (prompt forward + argmax), decode = first → last new token (N − 1 one-token forwards,
// each with its argmax). Both loops read the logits back to the host every step, so on WebGPU the
// clock includes the GPU work. Runs in Node and in the bench page; in the page a GPU counter
// (gpu-counter.ts) is read at the same three points, so that the counts split the same way.
import type { PreTrainedModel, Tensor } from '@huggingface/transformers';
import { generate, type Decoder } from '../../src/engine/generate.ts';
import { defaultSampling } from '../../src/engine/sampling.ts';
import { countsBetween, type GpuCounter, type GpuCounts } from './gpu-counter.ts';

/** The engines' names in the results. */
export const OURS = 'ours (Qwen3Session + generate)';
/** Ours on decoder.ts's standard-op graphs (decoder: 'plain'), the baseline the fused ones replace. */
export const OURS_PLAIN = 'ours, plain graphs';
export const TJS = 'transformers.js generate';
/** Ours with 4-bit base weights (weightDtype 'q4'): the same codes as TJS_Q4's file. */
export const OURS_Q4 = 'ours, q4 weights';
/** Ours with float16 weights (weightDtype 'float16', the page's default where the GPU has shader-f16): float16 products. */
export const OURS_F16 = 'ours, f16 weights';
/** Ours with q4f16 weights (weightDtype 'q4f16'): OURS_Q4's codes, float16 scales, activations and KV cache, as TJS_Q4F16's file. */
export const OURS_Q4F16 = 'ours, q4f16 weights';
/** transformers.js on the onnx-community layout (export-transformers-fused.ts: contrib ops, MatMulNBits); q4f16: float16 activations. */
export const TJS_Q4 = 'transformers.js generate, q4';
export const TJS_Q4F16 = 'transformers.js generate, q4f16';

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
  /** What the GPU was asked in prefill and in all N − 1 decode steps together (the page only). */
  gpu?: { prefill: GpuCounts; decode: GpuCounts };
}

export interface EngineResult {
  engine: string;
  loadMs: number;
  /** Weight bytes every decode step binds: ours' uploaded weights and adapters, TJS' initializers (set by run.ts). */
  weightBytes?: number;
  runs: Timing[];
  median: Timing;
}

/** The clock and the GPU counter at the start, at the first new token and at the last one. */
class Stamps {
  readonly times: number[] = [];
  private readonly counts: GpuCounts[] = [];
  readonly start: number;
  constructor(private readonly counter?: GpuCounter) {
    if (counter) this.counts.push(counter.snapshot());
    this.start = performance.now();
  }
  token(): void {
    this.times.push(performance.now());
    if (!this.counter) return;
    const now = this.counter.snapshot();
    // Keep the start, the first token's and the latest: the counts between are not needed.
    if (this.counts.length === 3) this.counts[2] = now;
    else this.counts.push(now);
  }
  timing(promptLength: number, ids: number[]): Timing {
    const prefillMs = this.times[0]! - this.start;
    const decodeMs = this.times.at(-1)! - this.times[0]!;
    const t: Timing = { prefillMs, decodeMs, prefillTokS: (1000 * promptLength) / prefillMs, decodeTokS: (1000 * (this.times.length - 1)) / decodeMs, ids };
    const [start, first, last] = this.counts;
    if (start && first) t.gpu = { prefill: countsBetween(start, first), decode: countsBetween(first, last ?? first) };
    return t;
  }
}

/** Our loop (src/engine/generate.ts) on a Qwen3Session, greedy, no stop tokens. */
export async function timeOurs(decoder: Decoder, spec: Spec, counter?: GpuCounter): Promise<Timing> {
  const stamps = new Stamps(counter);
  const { ids } = await generate(decoder, spec.promptIds, { ...defaultSampling, greedy: true, maxNewTokens: spec.newTokens, stopTokens: [] }, () =>
    stamps.token(),
  );
  return stamps.timing(spec.promptIds.length, ids);
}

/** transformers.js `generate`, greedy; min_new_tokens keeps it from stopping early on <|im_end|>. */
export async function timeTransformers(model: PreTrainedModel, tensor: typeof Tensor, spec: Spec, counter?: GpuCounter): Promise<Timing> {
  let prompt = true;
  const ids = BigInt64Array.from(spec.promptIds, BigInt);
  const stamps = new Stamps(counter);
  const streamer = {
    // The first put() is the prompt itself, then one per new token.
    put: () => (prompt ? (prompt = false) : stamps.token()),
    end: () => {},
  };
  const out = (await model.generate({
    input_ids: new tensor('int64', ids, [1, ids.length]),
    attention_mask: new tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
    max_new_tokens: spec.newTokens,
    min_new_tokens: spec.newTokens,
    do_sample: false,
    streamer: streamer as never,
  })) as Tensor;
  return stamps.timing(spec.promptIds.length, Array.from(out.data as BigInt64Array, Number).slice(ids.length));
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** An engine ready to time: `once` is one timed generation. */
export interface Contender {
  engine: string;
  loadMs: number;
  weightBytes?: number;
  once: () => Promise<Timing>;
}

function summary(c: Contender, spec: Spec, runs: Timing[]): EngineResult {
  const prefillMs = median(runs.map((r) => r.prefillMs));
  const decodeMs = median(runs.map((r) => r.decodeMs));
  return {
    engine: c.engine,
    loadMs: c.loadMs,
    ...(c.weightBytes === undefined ? {} : { weightBytes: c.weightBytes }),
    runs,
    // The GPU counts are the last timed run's (run.ts prints every run's dispatches to show they agree).
    median: { prefillMs, decodeMs, prefillTokS: (1000 * spec.promptIds.length) / prefillMs, decodeTokS: (1000 * (spec.newTokens - 1)) / decodeMs, ids: runs[0]!.ids, gpu: runs.at(-1)!.gpu },
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
