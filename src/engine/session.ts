// A loaded Qwen3: weights uploaded once, the decoder graph built once, an adapter swapped in
// or out by feeding different LoRA inputs (no rebuild), and a KV cache for generation.
import type { Qwen3Config } from '../model/config.ts';
import { loraScale, type LoraAdapter } from '../model/peft.ts';
import { buildDecoder } from '../model/qwen3/decoder.ts';
import * as names from '../model/qwen3/names.ts';
import { causalBias, ropeTables } from '../model/qwen3/inputs.ts';
import { loraTargets, projectionShape, qwen3TensorShapes } from '../model/tensors.ts';
import type { Decoder } from './generate.ts';
import { f32, floats, i64, type DeviceTensor, type Runtime, type Session, type SessionOptions, type Tensor } from './runtime.ts';

export class Qwen3Session implements Decoder {
  private cache: { keys: Tensor[]; values: Tensor[]; length: number } | null = null;
  private lora: Record<string, Tensor> = {};

  private constructor(
    readonly runtime: Runtime,
    readonly config: Qwen3Config,
    private readonly session: Session,
    /** HF name → device tensor. */
    readonly weights: ReadonlyMap<string, DeviceTensor>,
  ) {}

  static async load(
    runtime: Runtime,
    config: Qwen3Config,
    weights: ReadonlyMap<string, Float32Array>,
    options: SessionOptions = {},
  ): Promise<Qwen3Session> {
    const session = await runtime.createSession(buildDecoder(config), options);
    const device = new Map<string, DeviceTensor>();
    for (const [name, dims] of qwen3TensorShapes(config)) {
      const data = weights.get(name);
      if (!data) throw new Error(`Qwen3Session: weight ${name} is missing`);
      device.set(name, await runtime.upload(f32(dims, data)));
    }
    const s = new Qwen3Session(runtime, config, session, device);
    await s.setAdapter(null);
    return s;
  }

  /** Runs with `adapter` from now on; null runs the base model (scale 0, rank-1 zero matrices). */
  async setAdapter(adapter: LoraAdapter | null): Promise<void> {
    for (const t of Object.values(this.lora)) this.runtime.release(t);
    const feeds: Record<string, Tensor> = {};
    for (let layer = 0; layer < this.config.numLayers; layer++) {
      for (const target of loraTargets) {
        const [out, inp] = projectionShape(this.config, target);
        const pair = adapter?.layers[layer]?.[target];
        const r = pair ? adapter!.config.r : 1;
        feeds[names.loraA(layer, target)] = await this.runtime.upload(f32([r, inp], pair?.a ?? new Float32Array(inp)));
        feeds[names.loraB(layer, target)] = await this.runtime.upload(f32([out, r], pair?.b ?? new Float32Array(out)));
      }
    }
    feeds[names.LORA_SCALE] = await this.runtime.upload(f32([], [adapter ? loraScale(adapter.config) : 0]));
    this.lora = feeds;
    await this.reset();
  }

  async reset(): Promise<void> {
    if (this.cache) for (const t of [...this.cache.keys, ...this.cache.values]) this.runtime.release(t);
    this.cache = null;
  }

  /** Appends `ids` to the cached sequence; returns the last position's logits [vocab]. */
  async forward(ids: readonly number[]): Promise<Float32Array> {
    const { numLayers, numKvHeads, headDim, ropeTheta } = this.config;
    const past = this.cache?.length ?? 0;
    const empty = f32([1, numKvHeads, 0, headDim], new Float32Array(0));
    const { cos, sin } = ropeTables(
      ids.map((_, t) => past + t),
      headDim,
      ropeTheta,
    );
    const feeds: Record<string, Tensor> = {
      ...this.lora,
      [names.INPUT_IDS]: i64([1, ids.length], ids),
      [names.ROPE_COS]: f32([ids.length, headDim], cos),
      [names.ROPE_SIN]: f32([ids.length, headDim], sin),
      [names.ATTN_BIAS]: f32([ids.length, past + ids.length], causalBias(past, ids.length)),
    };
    for (const [name, t] of this.weights) feeds[name] = t;
    for (let layer = 0; layer < numLayers; layer++) {
      feeds[names.pastKey(layer)] = this.cache?.keys[layer] ?? empty;
      feeds[names.pastValue(layer)] = this.cache?.values[layer] ?? empty;
    }
    const out = await this.session.run(feeds, [names.LOGITS]);
    await this.reset();
    this.cache = {
      keys: Array.from({ length: numLayers }, (_, l) => out[names.presentKey(l)]!),
      values: Array.from({ length: numLayers }, (_, l) => out[names.presentValue(l)]!),
      length: past + ids.length,
    };
    return floats(out[names.LOGITS], names.LOGITS);
  }

  async release(): Promise<void> {
    await this.reset();
    for (const t of [...Object.values(this.lora), ...this.weights.values()]) this.runtime.release(t);
    await this.session.release();
  }
}
