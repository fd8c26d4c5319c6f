// A loaded Qwen3: weights uploaded once (in the layout the device needs: float16 or float32,
// the vocabulary split under the binding limit, matrices transposed for MatMul), a KV cache
// that stays on the device between steps, and two pairs of prefill/decode graphs, each built
// on first use: the base model's, and one with LoRA inputs that serves every adapter (swapped
// by feeding other inputs, no rebuild). The base model has its own pair so that it does not
// run 28 rank-1 zero branches per step.
import type { Qwen3Config } from '../model/config.ts';
import { loraScale, type LoraAdapter } from '../model/peft.ts';
import { buildDecoder } from '../model/qwen3/decoder.ts';
import * as names from '../model/qwen3/names.ts';
import { causalBias, ropeTables } from '../model/qwen3/inputs.ts';
import { chunkTokens, decoderWeights, transposeMatrix, weightLayout, type LayoutOptions, type WeightLayout } from '../model/qwen3/layout.ts';
import { loraTargets, projectionShape } from '../model/tensors.ts';
import type { Decoder } from './generate.ts';
import { f32, floats, hostTensor, i64, type DeviceTensor, type Runtime, type Session, type SessionOptions, type Tensor } from './runtime.ts';

export interface Qwen3SessionOptions extends SessionOptions, LayoutOptions {}

/** Bytes this session holds on the device, by what they are. */
export interface SessionMemory {
  weights: number;
  lora: number;
  kvCache: number;
}

const elementBytes = { float32: 4, float16: 2, int32: 4, int64: 8, bool: 1 } as const;
const bytesOf = (tensors: Iterable<Tensor>) => [...tensors].reduce((sum, t) => sum + t.dims.reduce((a, d) => a * d, elementBytes[t.type]), 0);

interface Graphs {
  prefill: Session;
  decode: Session;
}

export class Qwen3Session implements Decoder {
  private cache: { keys: Tensor[]; values: Tensor[]; length: number } | null = null;
  private lora: Record<string, Tensor> = {};
  private readonly built = new Map<'base' | 'adapter', Graphs>();
  private graphs: Graphs | null = null;

  private constructor(
    readonly runtime: Runtime,
    readonly config: Qwen3Config,
    readonly layout: WeightLayout,
    private readonly options: SessionOptions,
    /** Graph input name (HF name, `name#k` for a vocabulary chunk, names.transposed(…) for a matrix) → device tensor. */
    readonly weights: ReadonlyMap<string, DeviceTensor>,
  ) {}

  static async load(
    runtime: Runtime,
    config: Qwen3Config,
    weights: ReadonlyMap<string, Float32Array>,
    options: Qwen3SessionOptions = {},
  ): Promise<Qwen3Session> {
    const layout = weightLayout(config, options);
    const device = new Map<string, DeviceTensor>();
    try {
      for (const [name, dims, data] of decoderWeights(config, layout, weights)) {
        device.set(name, await runtime.upload(hostTensor(layout.dtype, dims, data)));
      }
      const s = new Qwen3Session(runtime, config, layout, options, device);
      await s.setAdapter(null); // builds the base graphs: nothing else to release if it fails
      return s;
    } catch (error) {
      for (const t of device.values()) runtime.release(t);
      throw error;
    }
  }

  private async graphsFor(kind: 'base' | 'adapter'): Promise<Graphs> {
    const cached = this.built.get(kind);
    if (cached) return cached;
    const build = (past: boolean) => buildDecoder(this.config, { layout: this.layout, past, lora: kind === 'adapter' });
    const prefill = await this.runtime.createSession(build(false), this.options);
    try {
      const graphs = { prefill, decode: await this.runtime.createSession(build(true), this.options) };
      this.built.set(kind, graphs);
      return graphs;
    } catch (error) {
      await prefill.release();
      throw error;
    }
  }

  /** Runs with `adapter` from now on; null runs the base model (its graphs have no LoRA inputs). */
  async setAdapter(adapter: LoraAdapter | null): Promise<void> {
    const graphs = await this.graphsFor(adapter ? 'adapter' : 'base');
    for (const t of Object.values(this.lora)) this.runtime.release(t);
    this.lora = {};
    this.graphs = graphs;
    await this.reset();
    if (!adapter) return;
    const feeds: Record<string, Tensor> = {};
    for (let layer = 0; layer < this.config.numLayers; layer++) {
      for (const target of loraTargets) {
        const [out, inp] = projectionShape(this.config, target);
        const pair = adapter.layers[layer]?.[target];
        // A target the adapter leaves out runs as a rank-1 zero branch.
        const r = pair ? adapter.config.r : 1;
        // Transposed (names.transposed): A [r, in] → [in, r], B [out, r] → [r, out].
        const a = pair ? transposeMatrix(pair.a, r, inp) : new Float32Array(inp);
        const b = pair ? transposeMatrix(pair.b, out, r) : new Float32Array(out);
        feeds[names.transposed(names.loraA(layer, target))] = await this.runtime.upload(f32([inp, r], a));
        feeds[names.transposed(names.loraB(layer, target))] = await this.runtime.upload(f32([r, out], b));
      }
    }
    feeds[names.LORA_SCALE] = await this.runtime.upload(f32([], [loraScale(adapter.config)]));
    this.lora = feeds;
  }

  async reset(): Promise<void> {
    if (this.cache) for (const t of [...this.cache.keys, ...this.cache.values]) this.runtime.release(t);
    this.cache = null;
  }

  /** Appends `ids` to the cached sequence; returns the last position's logits [vocab]. */
  async forward(ids: readonly number[]): Promise<Float32Array> {
    if (ids.length === 0) throw new Error('Qwen3Session.forward: no token ids');
    const { numLayers, headDim, ropeTheta } = this.config;
    const past = this.cache?.length ?? 0;
    const T = ids.length;
    const { cos, sin } = ropeTables(
      ids.map((_, t) => past + t),
      headDim,
      ropeTheta,
    );
    const feeds: Record<string, Tensor> = {
      ...this.lora,
      [names.ROPE_COS]: f32([T, headDim], cos),
      [names.ROPE_SIN]: f32([T, headDim], sin),
      [names.ATTN_BIAS]: f32([T, past + T], causalBias(past, T)),
    };
    if (this.layout.chunks.length === 1) feeds[names.INPUT_IDS] = i64([1, T], ids);
    else {
      chunkTokens(this.config, this.layout, ids).forEach(({ rows, mask }, k) => {
        feeds[names.chunkRows(k)] = i64([1, T], rows);
        feeds[names.chunkMask(k)] = f32([1, T, 1], mask);
      });
    }
    for (const [name, t] of this.weights) feeds[name] = t;
    if (this.cache) {
      for (let layer = 0; layer < numLayers; layer++) {
        feeds[names.pastKey(layer)] = this.cache.keys[layer]!;
        feeds[names.pastValue(layer)] = this.cache.values[layer]!;
      }
    }
    const graphs = this.graphs!;
    const out = await (this.cache ? graphs.decode : graphs.prefill).run(feeds, [names.LOGITS]);
    await this.reset();
    this.cache = {
      keys: Array.from({ length: numLayers }, (_, l) => out[names.presentKey(l)]!),
      values: Array.from({ length: numLayers }, (_, l) => out[names.presentValue(l)]!),
      length: past + T,
    };
    return floats(out[names.LOGITS], names.LOGITS);
  }

  /** Tokens in the KV cache. */
  get cachedTokens(): number {
    return this.cache?.length ?? 0;
  }

  /** Bytes uploaded for the weights and the adapter, and held by the KV cache (what the device keeps between runs). */
  memory(): SessionMemory {
    return {
      weights: bytesOf(this.weights.values()),
      lora: bytesOf(Object.values(this.lora)),
      kvCache: this.cache ? bytesOf([...this.cache.keys, ...this.cache.values]) : 0,
    };
  }

  async release(): Promise<void> {
    await this.reset();
    for (const t of [...Object.values(this.lora), ...this.weights.values()]) this.runtime.release(t);
    for (const { prefill, decode } of this.built.values()) {
      await prefill.release();
      await decode.release();
    }
    this.built.clear();
  }
}
