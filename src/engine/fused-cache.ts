// What the fused decoder (decoder-fused.ts) keeps on the device between runs: per layer a key and
// a value buffer [1, KV, capacity, hd] allocated once and fed to every run as both past and
// present, so GroupQueryAttention writes only the new rows (past_present_share_buffer) and no
// step allocates or copies the cache; and the RoPE tables [capacity, hd/2] it reads positions
// from. Capacity grows by doubling when a sequence outgrows it (one copy of the cache then) and
// is kept across sequences: a session reaches its longest generation's size once.
import type { Qwen3Config } from '../model/config.ts';
import { ropeCache } from '../model/qwen3/inputs.ts';
import * as names from '../model/qwen3/names.ts';
import type { DecoderGraph, KvCache } from './plain-cache.ts';
import { f32, i32, type DeviceTensor, type Runtime, type Tensor } from './runtime.ts';

/**
 * Positions a fresh cache holds: a QMD prompt (~30 tokens) and the eval's 200 new tokens fit, so
 * QMD's generations never regrow it (at Qwen3-0.6B: 58.7 MB of float32 keys and values).
 */
export const FIRST_CAPACITY = 256;

interface Buffers {
  keys: DeviceTensor[];
  values: DeviceTensor[];
  cos: DeviceTensor;
  sin: DeviceTensor;
  capacity: number;
}

export class FusedCache implements KvCache {
  private buffers: Buffers | null = null;
  /** Rows filled: the cached sequence's length. */
  private filled = 0;

  constructor(
    private readonly runtime: Runtime,
    private readonly config: Qwen3Config,
  ) {}

  get length(): number {
    return this.filled;
  }

  /** Every run is the decode graph's on the preallocated cache (a prefill graph would allocate a present of its own). */
  async run(graph: DecoderGraph, feeds: Record<string, Tensor>, count: number): Promise<Record<string, Tensor>> {
    const { inputs, into } = await this.feeds(count);
    const out = await (await graph(true)).run({ ...feeds, ...inputs }, [names.LOGITS], into);
    this.filled += count;
    return out;
  }

  /** Forgets the sequence; the buffers stay for the next one. */
  reset(): void {
    this.filled = 0;
  }

  /** The run's inputs for `count` new tokens after the cached ones (grown first if they do not fit), and the outputs to write in place. */
  private async feeds(count: number): Promise<{ inputs: Record<string, Tensor>; into: Record<string, DeviceTensor> }> {
    const total = this.filled + count;
    const b = await this.fit(total);
    const inputs: Record<string, Tensor> = {
      [names.SEQLENS_K]: i32([1], [total - 1]),
      [names.TOTAL_SEQUENCE_LENGTH]: i32([], [total]),
      [names.ROPE_COS_CACHE]: b.cos,
      [names.ROPE_SIN_CACHE]: b.sin,
    };
    const into: Record<string, DeviceTensor> = {};
    for (let l = 0; l < this.config.numLayers; l++) {
      inputs[names.pastKey(l)] = into[names.presentKey(l)] = b.keys[l]!;
      inputs[names.pastValue(l)] = into[names.presentValue(l)] = b.values[l]!;
    }
    return { inputs, into };
  }

  /** Bytes on the device: the key/value buffers at capacity, and the RoPE tables. */
  bytes(): { kvCache: number; rotary: number } {
    if (!this.buffers) return { kvCache: 0, rotary: 0 };
    const { numLayers, numKvHeads, headDim } = this.config;
    const { capacity } = this.buffers;
    return { kvCache: 2 * numLayers * numKvHeads * capacity * headDim * 4, rotary: 2 * capacity * (headDim / 2) * 4 };
  }

  /** The device buffers, grown to hold `total` positions: a power of two from FIRST_CAPACITY, the filled rows carried over. */
  private async fit(total: number): Promise<Buffers> {
    if (this.buffers && this.buffers.capacity >= total) return this.buffers;
    const capacity = Math.max(FIRST_CAPACITY, 2 ** Math.ceil(Math.log2(total)));
    const old = this.buffers;
    const made: DeviceTensor[] = [];
    const upload = async (dims: number[], data: Float32Array) => {
      const t = await this.runtime.upload(f32(dims, data));
      made.push(t);
      return t;
    };
    try {
      const { cos, sin } = ropeCache(capacity, this.config.headDim, this.config.ropeTheta);
      const next: Buffers = {
        keys: [],
        values: [],
        cos: await upload([capacity, this.config.headDim / 2], cos),
        sin: await upload([capacity, this.config.headDim / 2], sin),
        capacity,
      };
      for (let l = 0; l < this.config.numLayers; l++) {
        next.keys.push(await upload(this.dims(capacity), await this.carried(old?.keys[l], capacity)));
        next.values.push(await upload(this.dims(capacity), await this.carried(old?.values[l], capacity)));
      }
      this.releaseBuffers();
      this.buffers = next;
      return next;
    } catch (error) {
      for (const t of made) this.runtime.release(t);
      throw error;
    }
  }

  private dims(capacity: number): number[] {
    return [1, this.config.numKvHeads, capacity, this.config.headDim];
  }

  /**
   * A [1, KV, capacity, hd] buffer's contents with `from`'s filled rows at the same positions, zeros
   * elsewhere: the attention never reads past the filled rows, but zeros keep them finite (a masked
   * NaN would still poison a weighted sum).
   */
  private async carried(from: DeviceTensor | undefined, capacity: number): Promise<Float32Array> {
    const { numKvHeads: KV, headDim: hd } = this.config;
    const data = new Float32Array(KV * capacity * hd);
    if (!from || this.filled === 0) return data;
    const old = (await this.runtime.download(from)).data as Float32Array;
    const oldCapacity = from.dims[2]!;
    for (let h = 0; h < KV; h++) data.set(old.subarray(h * oldCapacity * hd, (h * oldCapacity + this.filled) * hd), h * capacity * hd);
    return data;
  }

  private releaseBuffers(): void {
    const b = this.buffers;
    if (b) for (const t of [...b.keys, ...b.values, b.cos, b.sin]) this.runtime.release(t);
    this.buffers = null;
  }

  release(): void {
    this.releaseBuffers();
    this.filled = 0;
  }
}
