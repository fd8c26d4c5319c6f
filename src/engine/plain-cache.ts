// How a session's decoder graphs keep the KV cache between runs (KvCache), and the plain graphs'
// way (decoder.ts): a prefill graph without past inputs makes the first present, and every decode
// run takes the cached keys/values as its past and returns them grown by its tokens (Concat), the
// old ones released. The fused graphs write a cache allocated once instead (fused-cache.ts). A
// cache holds a batch of rows of one length (GRPO samples a prompt's G completions together): the
// rows' RoPE positions and causal bias are the same, so one [T, hd] table and one [T, S] bias
// serve them all.
import type { Qwen3Config } from '../model/config.ts';
import { causalBias, ropeTables } from '../model/qwen3/inputs.ts';
import * as names from '../model/qwen3/names.ts';
import { f32, tensorBytes, type Runtime, type Session, type Tensor } from './runtime.ts';

/** The decoder graph to run: decode (plain: with past inputs; fused: one new token a row) or prefill. */
export type DecoderGraph = (decode: boolean) => Promise<Session>;

export interface KvCache {
  /** Tokens cached per row: the sequences so far. */
  readonly length: number;
  /** Rows cached (0 when empty): fixed from a sequence's first run until reset. */
  readonly rows: number;
  /**
   * Runs the decoder on `feeds` (weights, adapter, tokens [rows, count]; rows 1 by default) for
   * `count` new tokens per row after the cached ones, and caches them; `output` is the graph's
   * LOGITS (default) or NEXT_TOKEN (a greedy graph: decoder.ts `pick`).
   */
  run(graph: DecoderGraph, feeds: Record<string, Tensor>, count: number, rows?: number, output?: string): Promise<Record<string, Tensor>>;
  /** Forgets the cached sequences. */
  reset(): void;
  /** Bytes held on the device: keys and values, and RoPE tables. */
  bytes(): { kvCache: number; rotary: number };
  release(): void;
}

/** Refuses a run of `rows` rows on a cache that holds another number (a batch is fixed until reset). */
export function batchFits(cache: KvCache, rows: number): void {
  if (cache.rows !== 0 && cache.rows !== rows) throw new Error(`KV cache: ${rows} rows given, the cached batch has ${cache.rows} (reset the session to start another batch)`);
}

export class PlainCache implements KvCache {
  private cached: { keys: Tensor[]; values: Tensor[]; rows: number; length: number } | null = null;

  constructor(
    private readonly runtime: Runtime,
    private readonly config: Qwen3Config,
  ) {}

  get length(): number {
    return this.cached?.length ?? 0;
  }

  get rows(): number {
    return this.cached?.rows ?? 0;
  }

  async run(graph: DecoderGraph, feeds: Record<string, Tensor>, count: number, rows = 1, output = names.LOGITS): Promise<Record<string, Tensor>> {
    const { numLayers, headDim, ropeTheta } = this.config;
    batchFits(this, rows);
    const past = this.length;
    // The plain graphs take each run's RoPE rows and causal bias.
    const { cos, sin } = ropeTables(Array.from({ length: count }, (_, t) => past + t), headDim, ropeTheta);
    const inputs: Record<string, Tensor> = {
      ...feeds,
      [names.ROPE_COS]: f32([count, headDim], cos),
      [names.ROPE_SIN]: f32([count, headDim], sin),
      [names.ATTN_BIAS]: f32([count, past + count], causalBias(past, count)),
    };
    const c = this.cached;
    if (c) {
      for (let l = 0; l < numLayers; l++) {
        inputs[names.pastKey(l)] = c.keys[l]!;
        inputs[names.pastValue(l)] = c.values[l]!;
      }
    }
    const out = await (await graph(c !== null)).run(inputs, [output]);
    this.reset();
    this.cached = {
      keys: Array.from({ length: numLayers }, (_, l) => out[names.presentKey(l)]!),
      values: Array.from({ length: numLayers }, (_, l) => out[names.presentValue(l)]!),
      rows,
      length: past + count,
    };
    return out;
  }

  reset(): void {
    if (this.cached) for (const t of [...this.cached.keys, ...this.cached.values]) this.runtime.release(t);
    this.cached = null;
  }

  bytes(): { kvCache: number; rotary: number } {
    return { kvCache: this.cached ? tensorBytes([...this.cached.keys, ...this.cached.values]) : 0, rotary: 0 };
  }

  release(): void {
    this.reset();
  }
}
