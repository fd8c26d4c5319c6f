// What the fused decoder (decoder-fused.ts) keeps on the device between runs: per layer a key and
// a value buffer [B, KV, capacity, hd] allocated once and fed to every run as both past and
// present, so GroupQueryAttention writes only the new rows (past_present_share_buffer) and no
// step allocates or copies the cache; and the RoPE tables [capacity, hd/2] it reads positions
// from. Capacity grows by doubling when a sequence outgrows it (one copy of the cache then) and
// is kept across sequences: a session reaches its longest generation's size once. B is the rows
// of a batch (all of one length: seqlens_k is the same for each); a batch of another size
// re-makes the buffers, so a caller that alternates sizes pays an allocation per switch. A decode
// step's small per-step inputs (token ids, seqlens_k) are device tensors kept from step to step and
// written in place: each host input cost onnxruntime-web a staging buffer and a queue submit per
// token (bench/decode-capture: 8 submits a token → 4 on the tiny model). Keys, values and tables
// are of the graphs' activation type: float16 under a q4f16 layout (decoder-fused.ts), else float32.
import type { Qwen3Config } from '../model/config.ts';
import { toFloat16 } from '../model/dtype.ts';
import { ropeCache } from '../model/qwen3/inputs.ts';
import type { WeightDtype } from '../model/qwen3/layout.ts';
import * as names from '../model/qwen3/names.ts';
import { batchFits, type DecoderGraph, type KvCache } from './plain-cache.ts';
import { ELEMENT_BYTES, hostTensor, i32, type DeviceTensor, type HostTensor, type Runtime, type Tensor } from './runtime.ts';

/**
 * Positions a fresh cache holds: a QMD prompt (~30 tokens) and the eval's 200 new tokens fit, so
 * QMD's generations never regrow it (at Qwen3-0.6B: 58.7 MB of float32 keys and values).
 */
export const FIRST_CAPACITY = 256;

/** The positions a cache holding `total` has: a power of two from FIRST_CAPACITY. */
export const cacheCapacity = (total: number): number => Math.max(FIRST_CAPACITY, 2 ** Math.ceil(Math.log2(total)));

interface Buffers {
  keys: DeviceTensor[];
  values: DeviceTensor[];
  cos: DeviceTensor;
  sin: DeviceTensor;
  /** The batch the key/value buffers hold, and positions per row. */
  rows: number;
  capacity: number;
}

export class FusedCache implements KvCache {
  private buffers: Buffers | null = null;
  /** Positions filled per row: the cached sequences' length. */
  private filled = 0;
  /** A decode step's per-step inputs on the device, by input name: written each step, re-made when their shape changes. */
  private readonly stepInputs = new Map<string, DeviceTensor>();

  constructor(
    private readonly runtime: Runtime,
    private readonly config: Qwen3Config,
    private readonly dtype: WeightDtype = 'float32',
  ) {}

  get length(): number {
    return this.filled;
  }

  get rows(): number {
    return this.filled === 0 ? 0 : this.buffers!.rows;
  }

  /** Every run is on the preallocated cache: one new token a row on the decode graph (no Slice), more on the prompt graph. */
  async run(graph: DecoderGraph, feeds: Record<string, Tensor>, count: number, rows = 1, output = names.LOGITS): Promise<Record<string, Tensor>> {
    batchFits(this, rows);
    const { inputs, into } = await this.feeds(rows, count);
    const all: Record<string, Tensor> = { ...feeds, ...inputs };
    // total_sequence_length stays on the host: GroupQueryAttention reads it on the CPU.
    if (count === 1) for (const [name, t] of Object.entries(all)) if (t.kind === 'host' && name !== names.TOTAL_SEQUENCE_LENGTH) all[name] = await this.resident(name, t);
    const out = await (await graph(count === 1)).run(all, [output], into);
    this.filled += count;
    return out;
  }

  /** `t` in the device tensor kept for input `name`: written over when it has t's type and dims, else made anew. */
  private async resident(name: string, t: HostTensor): Promise<DeviceTensor> {
    const kept = this.stepInputs.get(name);
    if (kept && kept.type === t.type && kept.dims.length === t.dims.length && kept.dims.every((d, i) => d === t.dims[i])) {
      await this.runtime.write(kept, t.data);
      return kept;
    }
    if (kept) this.runtime.release(kept);
    const made = await this.runtime.upload(t);
    this.stepInputs.set(name, made);
    return made;
  }

  /** Forgets the sequences; the buffers stay for the next batch of as many rows. */
  reset(): void {
    this.filled = 0;
  }

  /** The run's inputs for `count` new tokens per row after the cached ones (grown first if they do not fit), and the outputs to write in place. */
  private async feeds(rows: number, count: number): Promise<{ inputs: Record<string, Tensor>; into: Record<string, DeviceTensor> }> {
    const total = this.filled + count;
    const b = await this.fit(rows, total);
    const inputs: Record<string, Tensor> = {
      [names.SEQLENS_K]: i32([rows], new Array<number>(rows).fill(total - 1)),
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
    const { rows, capacity } = this.buffers;
    return { kvCache: 2 * numLayers * rows * numKvHeads * capacity * headDim * ELEMENT_BYTES[this.dtype], rotary: 2 * capacity * (headDim / 2) * ELEMENT_BYTES[this.dtype] };
  }

  /**
   * The device buffers for `rows` rows, grown to hold `total` positions: a power of two from
   * FIRST_CAPACITY, the filled positions carried over. Another batch size (only when nothing is
   * cached: batchFits) re-makes them at the capacity `total` needs.
   */
  private async fit(rows: number, total: number): Promise<Buffers> {
    const old = this.buffers;
    if (old && old.rows === rows && old.capacity >= total) return old;
    const capacity = cacheCapacity(total);
    const made: DeviceTensor[] = [];
    const upload = async (dims: number[], data: Float32Array | Uint16Array) => {
      const t = await this.runtime.upload(hostTensor(this.dtype, dims, data));
      made.push(t);
      return t;
    };
    try {
      const { cos, sin } = ropeCache(capacity, this.config.headDim, this.config.ropeTheta);
      const table = (values: Float32Array) => (this.dtype === 'float16' ? toFloat16(values).bits : values);
      const next: Buffers = {
        keys: [],
        values: [],
        cos: await upload([capacity, this.config.headDim / 2], table(cos)),
        sin: await upload([capacity, this.config.headDim / 2], table(sin)),
        rows,
        capacity,
      };
      for (let l = 0; l < this.config.numLayers; l++) {
        next.keys.push(await upload(this.dims(rows, capacity), await this.carried(old?.keys[l], rows, capacity)));
        next.values.push(await upload(this.dims(rows, capacity), await this.carried(old?.values[l], rows, capacity)));
      }
      this.releaseBuffers();
      this.buffers = next;
      return next;
    } catch (error) {
      for (const t of made) this.runtime.release(t);
      throw error;
    }
  }

  private dims(rows: number, capacity: number): number[] {
    return [rows, this.config.numKvHeads, capacity, this.config.headDim];
  }

  /**
   * A [rows, KV, capacity, hd] buffer's contents with `from`'s filled positions at the same places,
   * zeros elsewhere: the attention never reads past the filled positions, but zeros keep them
   * finite (a masked NaN would still poison a weighted sum). Something is filled only when `from`
   * holds as many rows (batchFits).
   */
  private async carried(from: DeviceTensor | undefined, rows: number, capacity: number): Promise<Float32Array | Uint16Array> {
    const { numKvHeads: KV, headDim: hd } = this.config;
    const size = rows * KV * capacity * hd;
    const data = this.dtype === 'float16' ? new Uint16Array(size) : new Float32Array(size);
    if (!from || this.filled === 0) return data;
    const old = (await this.runtime.download(from)).data as typeof data;
    const oldCapacity = from.dims[2]!;
    // [rows, KV] heads, each `capacity` positions of hd.
    for (let h = 0; h < rows * KV; h++) data.set(old.subarray(h * oldCapacity * hd, (h * oldCapacity + this.filled) * hd), h * capacity * hd);
    return data;
  }

  private releaseBuffers(): void {
    const b = this.buffers;
    if (b) for (const t of [...b.keys, ...b.values, b.cos, b.sin]) this.runtime.release(t);
    this.buffers = null;
  }

  release(): void {
    this.releaseBuffers();
    for (const t of this.stepInputs.values()) this.runtime.release(t);
    this.stepInputs.clear();
    this.filled = 0;
  }
}
