// A loaded Qwen3: weights uploaded once (in the layout the device needs: float32, float16 or 4-bit,
// the vocabulary split under the binding limit, matrices transposed for MatMul), read, turned
// and uploaded one tensor at a time so that the host never holds the model; adapters uploaded
// once and kept resident, switched by reference; a KV cache that stays on the device between
// steps; and the decoder graphs of two kinds: the base model's, and one with LoRA inputs that
// serves every adapter (swapped by feeding other inputs, no rebuild), each kind built when first
// used (or, with `graphs: 'lazy'`, each graph when first run). The base model has its own graphs so
// that it does not run 28 rank-1 zero branches per step. The graphs are the fused ones by default
// (decoder-fused.ts: contrib ops; a prompt graph and a one-token decode graph, both on a KV cache
// allocated once, fused-cache.ts), or with `decoder: 'plain'` decoder.ts's standard ops (a prefill
// and a decode graph, the cache grown by each run's present), either on one sequence or a batch of
// rows of one length (forwardRows). An adapter can also be merged into the weights on the device
// (mergeAdapter), and one already on the device (a trainer's, trained-adapter.ts) taken over
// without an upload.
import type { Qwen3Config } from '../model/config.ts';
import { loraScale, type LoraAdapter, type LoraConfig } from '../model/peft.ts';
import type { DecoderPick, HeadProduct } from '../model/qwen3/forward.ts';
import { buildDecoder } from '../model/qwen3/decoder.ts';
import { buildFusedDecoder, fusedDecoderRefusal } from '../model/qwen3/decoder-fused.ts';
import * as names from '../model/qwen3/names.ts';
import { toFloat16 } from '../model/dtype.ts';
import { floatWeights, tokenInputs, transposeMatrix, vectorDtype, weightLayout, weightType, type LayoutOptions, type WeightDtype, type WeightLayout } from '../model/qwen3/layout.ts';
import { buildMerge, decoderLoraInputs, MERGE_A, MERGE_B, MERGE_SCALE, MERGE_WEIGHT, MERGED, mergeShapeKey, mergeSites } from '../model/qwen3/merge-graph.ts';
import { loraTargets, projectionShape, qwen3TensorShapes } from '../model/tensors.ts';
import type { Decoder } from './generate.ts';
import { FusedCache } from './fused-cache.ts';
import { PlainCache, type KvCache } from './plain-cache.ts';
import { f32, floats, hostFeeds, hostTensor, tensorBytes, type DeviceTensor, type HostTensor, type Runtime, type Session, type SessionOptions, type Tensor } from './runtime.ts';
import { weightInputs, type Weights } from './weight-source.ts';

export interface Qwen3SessionOptions extends SessionOptions, LayoutOptions {
  /**
   * 'eager' (default) builds a pair's prefill and decode graphs when the pair is first used, the
   * base pair at load, so that a graph the device refuses fails the load. 'lazy' builds each
   * graph at its first run: at Qwen3-0.6B one ORT session takes ~1.5–2.5 s to create on 2 cores
   * and holds its own plan, which `qmd logits` (one prefill) and `qmd train` (none) never need.
   */
  graphs?: 'eager' | 'lazy';
  /**
   * 'fused': decoder-fused.ts's graphs (GroupQueryAttention, SimplifiedLayerNormalization: far fewer
   * dispatches per token); 'plain': decoder.ts's standard ops, the graphs training and scoring are
   * built like (tests, a runtime without the contrib ops). Default: fused where the model allows it
   * (fusedDecoderRefusal: head_dim a multiple of 16, as every Qwen3's 128 is), plain otherwise.
   */
  decoder?: 'fused' | 'plain';
  /** The decoders' LM head product (forward.ts HeadProduct). Default: 'rows' on a fallback adapter (Runtime.fallbackAdapter), else 'matmul'. */
  head?: HeadProduct;
}

/** Bytes this session holds on the device, by what they are. */
export interface SessionMemory {
  weights: number;
  /** Every resident adapter's. */
  lora: number;
  kvCache: number;
  /** The fused graphs' RoPE tables (fused-cache.ts: as many positions as the KV cache holds). */
  rotary: number;
}


/** The key of the adapter setAdapter manages, apart from the ids callers add. */
const unnamed = Symbol('setAdapter');

/** Which graphs run: the base model's (no LoRA inputs) or those with LoRA inputs, fed the running adapter's. */
export type GraphKind = 'base' | 'adapter';

/** A resident adapter: the decoder's LoRA inputs, and those of them the session releases with it (shared zero branches are not). */
interface Resident {
  feeds: Record<string, DeviceTensor>;
  owned: DeviceTensor[];
}

/** A run's output that stays on the device, by name. */
function deviceOutput(out: Record<string, Tensor>, name: string, graph: string): DeviceTensor {
  const t = out[name];
  if (t?.kind !== 'device') throw new Error(`${graph}: output ${name} should stay on the device, got ${t ? 'a host tensor' : 'nothing'}`);
  return t;
}

export class Qwen3Session implements Decoder {
  /** The fused graphs' KV cache and RoPE tables, allocated once and written in place; the plain graphs', each run's presents. */
  private readonly cache: KvCache;
  /** Resident adapters by id; `setAdapter`'s own under a key no caller can pass. */
  private readonly adapters = new Map<string | typeof unnamed, Resident>();
  private lora: Record<string, DeviceTensor> = {};
  /** Rank-1 zero branches of the targets an adopted adapter leaves out, uploaded once and shared by all such adapters. */
  private readonly zeroBranches = new Map<string, DeviceTensor>();
  /** Built graphs by `${kind} ${prefill|decode}`, and graphFor's by their keys. */
  private readonly built = new Map<string, Session>();
  private kind: GraphKind = 'base';

  private constructor(
    readonly runtime: Runtime,
    readonly config: Qwen3Config,
    readonly layout: WeightLayout,
    private readonly options: Qwen3SessionOptions,
    /** Graph input name (HF name, `name#k` for a vocabulary chunk, names.transposed(…) for a matrix) → device tensor. */
    private readonly device: Map<string, DeviceTensor>,
  ) {
    this.cache = this.fused ? new FusedCache(runtime, config, this.activations) : new PlainCache(runtime, config);
  }

  /**
   * The weights by graph input name. One Map for the session's life: mergeAdapter replaces its
   * entries in place, so a trainer reading it (trainer.ts sessionWeights) trains on the merged model.
   */
  get weights(): ReadonlyMap<string, DeviceTensor> {
    return this.device;
  }

  /**
   * Uploads the weights (weight-source.ts): each tensor is read, turned into its graph inputs
   * (layout.ts tensorInputs, unless they come made) and uploaded input by input before the next
   * is read, so the host holds one tensor and one of its chunks at a time (Qwen3-0.6B: the 622 MB
   * float32 embedding and one chunk of it), not the model.
   */
  static async load(runtime: Runtime, config: Qwen3Config, weights: Weights, options: Qwen3SessionOptions = {}): Promise<Qwen3Session> {
    const refusal = options.decoder === 'fused' ? fusedDecoderRefusal(config) : null;
    if (refusal) throw new Error(`Qwen3Session.load: decoder 'fused' cannot run this model: ${refusal} (use decoder 'plain')`);
    const layout = weightLayout(config, options);
    const source = weightInputs(config, layout, weights);
    const device = new Map<string, DeviceTensor>();
    try {
      for (const name of qwen3TensorShapes(config).keys()) {
        for await (const [input, dims, data] of source.inputs(name)) {
          device.set(input, await runtime.upload(hostTensor(weightType(data), dims, data)));
        }
      }
    } catch (error) {
      for (const t of device.values()) runtime.release(t);
      throw error;
    }
    const head = options.head ?? ((await runtime.fallbackAdapter?.()) ? 'rows' : 'matmul');
    const s = new Qwen3Session(runtime, config, layout, { ...options, head }, device);
    try {
      await s.useAdapter(null); // builds the base graphs unless lazy
    } catch (error) {
      await s.release(); // the weights, and a prefill graph built before its decode one failed
      throw error;
    }
    return s;
  }

  /**
   * The prefill or decode graph of `kind`, built and kept on first call; `pick` 'argmax' is its
   * greedy variant. Plain, decode takes past inputs; fused, prefill is a prompt's run on the cache
   * and decode a one-token run.
   */
  private graph(kind: GraphKind, decode: boolean, pick: DecoderPick = 'logits'): Promise<Session> {
    return this.graphFor(`${kind} ${decode ? 'decode' : 'prefill'}${pick === 'argmax' ? ' argmax' : ''}`, () => this.decoderBytes(kind, decode, pick));
  }

  /** The serialized graph of `kind` the session runs (fused or plain); the decode one runs per generated token, what a placement check reads. */
  decoderBytes(kind: GraphKind, decode: boolean, pick: DecoderPick = 'logits'): Uint8Array {
    const options = { layout: this.layout, lora: kind === 'adapter', pick, head: this.head };
    if (!this.fused) return buildDecoder(this.config, { ...options, past: decode });
    return buildFusedDecoder(this.config, { ...options, oneToken: decode, headNorm: this.runtime.headNormInAttention ? 'attention' : 'nodes' });
  }

  /** How the decoders multiply by the LM head (Qwen3SessionOptions.head, resolved at load). */
  get head(): HeadProduct {
    return this.options.head!;
  }

  /**
   * The decoders' activation type, that of their KV cache and LoRA inputs too: float16 in the
   * fused graphs of a q4f16 layout (decoder-fused.ts), float32 in every other.
   */
  get activations(): WeightDtype {
    return this.fused ? vectorDtype(this.layout.dtype) : 'float32';
  }

  /** LoRA input `name` of the decoders from its float32 values, in their type (activations); a value float16 cannot hold is refused by name. */
  private loraTensor(name: string, dims: number[], data: Float32Array): HostTensor {
    if (this.activations === 'float32') return f32(dims, data);
    const { bits, overflow } = toFloat16(data);
    if (overflow >= 0) throw new Error(`Qwen3Session: adapter tensor ${name} holds ${data[overflow]} at element ${overflow}, past float16's range (this q4f16 session runs its adapters in float16); load the model in q4 to run it`);
    return hostTensor('float16', dims, bits);
  }

  /** Whether the fused graphs run (Qwen3SessionOptions.decoder). */
  get fused(): boolean {
    return (this.options.decoder ?? (fusedDecoderRefusal(this.config) ? 'plain' : 'fused')) === 'fused';
  }

  /** The graph under `key`, built from `bytes()` on first call and released with the session: also graphs of other modules that read its inputs (sequence-logps.ts). */
  async graphFor(key: string, bytes: () => Uint8Array): Promise<Session> {
    const cached = this.built.get(key);
    if (cached) return cached;
    const session = await this.runtime.createSession(bytes(), this.options);
    this.built.set(key, session);
    return session;
  }

  /** What runs now: which kind of graph, and the running adapter's LoRA inputs for it (none for the base model). */
  get running(): { kind: GraphKind; lora: Readonly<Record<string, DeviceTensor>> } {
    return { kind: this.kind, lora: this.lora };
  }

  /**
   * Uploads `adapter`'s matrices once and keeps them on the device under `id` (replacing, and
   * releasing, what `id` held). The session keeps running what it ran: switch with useAdapter.
   */
  async addAdapter(id: string, adapter: LoraAdapter): Promise<void> {
    await this.upload(id, adapter);
  }

  /** Runs adapter `id` (added before) from now on, or the base model for null; uploads nothing. Clears the KV cache. */
  async useAdapter(id: string | null): Promise<void> {
    await this.use(id);
  }

  /** Releases adapter `id`'s device tensors; the session runs the base model if `id` was running. */
  async removeAdapter(id: string): Promise<void> {
    await this.remove(id);
  }

  /** Ids of the resident adapters. */
  get adapterIds(): string[] {
    return [...this.adapters.keys()].filter((id) => typeof id === 'string');
  }

  /** Runs `adapter` from now on (uploaded now, replacing the one set before); null runs the base model and releases it. */
  async setAdapter(adapter: LoraAdapter | null): Promise<void> {
    if (!adapter) {
      await this.use(null);
      await this.remove(unnamed);
      return;
    }
    await this.upload(unnamed, adapter);
    await this.use(unnamed);
  }

  private async upload(id: string | typeof unnamed, adapter: LoraAdapter): Promise<void> {
    const feeds: Record<string, DeviceTensor> = {};
    const put = async (name: string, dims: number[], data: Float32Array) => (feeds[name] = await this.runtime.upload(this.loraTensor(name, dims, data)));
    try {
      for (let layer = 0; layer < this.config.numLayers; layer++) {
        for (const target of loraTargets) {
          const [out, inp] = projectionShape(this.config, target);
          const pair = adapter.layers[layer]?.[target];
          // A target the adapter leaves out runs as a rank-1 zero branch.
          const r = pair ? adapter.config.r : 1;
          // Transposed (names.transposed): A [r, in] → [in, r], B [out, r] → [r, out].
          await put(names.transposed(names.loraA(layer, target)), [inp, r], pair ? transposeMatrix(pair.a, r, inp) : new Float32Array(inp));
          await put(names.transposed(names.loraB(layer, target)), [r, out], pair ? transposeMatrix(pair.b, out, r) : new Float32Array(out));
        }
      }
      await put(names.LORA_SCALE, [], Float32Array.of(loraScale(adapter.config)));
    } catch (error) {
      for (const t of Object.values(feeds)) this.runtime.release(t);
      throw error;
    }
    await this.keep(id, { feeds, owned: Object.values(feeds) });
  }

  /** Makes `resident` adapter `id`, releasing what `id` held. */
  private async keep(id: string | typeof unnamed, resident: Resident): Promise<void> {
    const previous = this.adapters.get(id);
    this.adapters.set(id, resident);
    if (previous) {
      // The running adapter's weights changed: its KV cache no longer matches them.
      if (this.lora === previous.feeds) await this.use(id);
      for (const t of previous.owned) this.runtime.release(t);
    }
  }

  /**
   * Keeps under `id`, as addAdapter does, an adapter whose matrices are already on the device:
   * `transposed` holds, for every site of `config.targets`, names.transposed(names.loraA(…)) [in, r]
   * and names.transposed(names.loraB(…)) [r, out] in the decoders' type (activations: float16 only
   * under q4f16, whose weights no trainer runs on; trained-adapter.ts makes them from a trainer's).
   * The session takes them over: it releases them when `id` is replaced or removed, or at release.
   * Other targets run as rank-1 zero branches uploaded once and shared by every adopted adapter;
   * the scale is uploaded. On an error nothing is taken over.
   */
  async adoptAdapter(id: string, config: LoraConfig, transposed: Readonly<Record<string, DeviceTensor>>): Promise<void> {
    const expected = new Map([...decoderLoraInputs(this.config, config.targets, config.r)].map(({ input, dims }) => [input, dims]));
    for (const [name, t] of Object.entries(transposed)) {
      const dims = expected.get(name);
      const what = !dims ? `is not a LoRA input of r ${config.r} on [${config.targets.join(', ')}]` : t.type !== this.activations || t.dims.join() !== dims.join() ? `is ${t.type} [${t.dims.join(', ')}], ${this.activations} [${dims.join(', ')}] expected` : null;
      if (what) throw new Error(`Qwen3Session.adoptAdapter: tensor ${name} ${what}`);
    }
    const missing = [...expected.keys()].find((name) => !(name in transposed));
    if (missing) throw new Error(`Qwen3Session.adoptAdapter: tensor ${missing} is missing (r ${config.r} on [${config.targets.join(', ')}])`);
    const feeds: Record<string, DeviceTensor> = { ...transposed };
    for (const { input, dims } of decoderLoraInputs(this.config, loraTargets.filter((t) => !config.targets.includes(t)), 1)) {
      let zero = this.zeroBranches.get(input);
      if (!zero) this.zeroBranches.set(input, (zero = await this.runtime.upload(this.loraTensor(input, dims, new Float32Array(dims[0] * dims[1])))));
      feeds[input] = zero;
    }
    const scale = await this.runtime.upload(this.loraTensor(names.LORA_SCALE, [], Float32Array.of(loraScale(config))));
    feeds[names.LORA_SCALE] = scale;
    await this.keep(id, { feeds, owned: [...Object.values(transposed), scale] });
  }

  /**
   * Merges `adapter` into the weights on the device, W' = W + s·B·A for each of its pairs, in the
   * session's layout (merge-graph.ts; a graph per distinct shape, released after): each projection
   * is replaced and its old tensor released before the next is merged, so the device holds at most
   * one projection more than the model, never a second copy. Resident adapters then run on top of
   * the merged weights, and the base graphs run the merged model. Clears the KV cache. A failure
   * partway leaves the weights partly merged, and the error says so.
   */
  async mergeAdapter(adapter: LoraAdapter): Promise<void> {
    const { r } = adapter.config;
    const pairs = mergeSites(this.config, adapter, floatWeights(this.layout, 'Qwen3Session.mergeAdapter: merging an adapter'));
    await this.reset();
    const scale = f32([], [loraScale(adapter.config)]);
    const graphs = new Map<string, Session>();
    let merged = 0;
    try {
      for (const { input, pair, shape } of pairs) {
        const key = mergeShapeKey(shape);
        let graph = graphs.get(key);
        if (!graph) graphs.set(key, (graph = await this.runtime.createSession(buildMerge(shape), this.options)));
        const old = this.device.get(input)!;
        const a = f32([r, shape.inFeatures], pair.a);
        const out = await graph.run({ [MERGE_WEIGHT]: old, [MERGE_A]: a, [MERGE_B]: f32([shape.outFeatures, r], pair.b), [MERGE_SCALE]: scale });
        this.device.set(input, deviceOutput(out, MERGED, 'lora-merge'));
        this.runtime.release(old);
        merged += 1;
      }
    } catch (error) {
      const state = merged === 0 ? 'nothing was merged' : 'the weights are partly merged — release the session and load it again';
      throw new Error(`Qwen3Session.mergeAdapter: merging ${pairs[merged]?.weight} failed after ${merged} of ${pairs.length} weights; ${state}`, { cause: error });
    } finally {
      for (const graph of graphs.values()) await graph.release();
    }
  }

  private async use(id: string | typeof unnamed | null): Promise<void> {
    const feeds = id === null ? {} : this.adapters.get(id)?.feeds;
    if (!feeds) throw new Error(`Qwen3Session.useAdapter: no adapter "${String(id)}" (resident: ${this.adapterIds.join(', ') || 'none'})`);
    const kind = id === null ? 'base' : 'adapter';
    if (this.options.graphs !== 'lazy') {
      await this.graph(kind, false);
      await this.graph(kind, true);
    }
    this.kind = kind;
    this.lora = feeds;
    await this.reset();
  }

  private async remove(id: string | typeof unnamed): Promise<void> {
    const resident = this.adapters.get(id);
    if (!resident) return;
    if (this.lora === resident.feeds) await this.use(null);
    this.adapters.delete(id);
    for (const t of resident.owned) this.runtime.release(t);
  }

  /** Forgets the cached sequence; the fused cache keeps its buffers for the next one. */
  async reset(): Promise<void> {
    this.cache.reset();
  }

  /** The token inputs of `rows` (each of `T` ids) as [rows, T]: input_ids, or per vocabulary chunk its rows and mask. */
  private tokenFeeds(rows: readonly (readonly number[])[], T: number): Record<string, Tensor> {
    return hostFeeds(tokenInputs(this.config, this.layout, rows.length, T, rows.flat()));
  }

  /** Appends `ids` to the cached sequence; returns the last position's logits [vocab]. */
  async forward(ids: readonly number[]): Promise<Float32Array> {
    return (await this.forwardRows([ids]))[0]!;
  }

  /**
   * Appends `rows[b]` to cached sequence b of a batch (GRPO's G completions of one prompt in one
   * run): every row as long as the others, as many rows as the batch's first run gave until reset.
   * Returns each row's last position's logits [vocab]. A row's logits are its batch-1 logits up to
   * float rounding (kernels may sum in another order at another batch size).
   */
  async forwardRows(rows: readonly (readonly number[])[]): Promise<Float32Array[]> {
    const logits = floats((await this.runRows(rows, 'logits'))[names.LOGITS], names.LOGITS); // [rows, vocab]
    const V = logits.length / rows.length;
    return rows.map((_, b) => logits.subarray(b * V, (b + 1) * V));
  }

  /**
   * forward for greedy decoding: appends `ids` and returns the last position's argmax, computed on
   * the device (the logits are not read back: decoder.ts `pick`). The same token as
   * argmax(forward(ids)) on the same runtime.
   */
  async forwardGreedy(ids: readonly number[]): Promise<number> {
    const next = (await this.runRows([ids], 'argmax'))[names.NEXT_TOKEN];
    if (next?.kind !== 'host' || !(next.data instanceof BigInt64Array)) throw new Error(`output ${names.NEXT_TOKEN}: expected an int64 host tensor, got ${next ? `${next.kind} ${next.type}` : 'nothing'}`);
    return Number(next.data[0]!);
  }

  private async runRows(rows: readonly (readonly number[])[], pick: DecoderPick): Promise<Record<string, Tensor>> {
    const T = rows[0]?.length ?? 0;
    if (T === 0) throw new Error('Qwen3Session.forward: no token ids');
    const uneven = rows.findIndex((r) => r.length !== T);
    if (uneven >= 0) throw new Error(`Qwen3Session.forwardRows: row ${uneven} has ${rows[uneven]!.length} token ids, row 0 has ${T} (a batch's rows are of one length)`);
    const feeds: Record<string, Tensor> = { ...this.lora, ...this.tokenFeeds(rows, T), ...Object.fromEntries(this.weights) };
    return this.cache.run((decode) => this.graph(this.kind, decode, pick), feeds, T, rows.length, pick === 'argmax' ? names.NEXT_TOKEN : names.LOGITS);
  }

  /** Tokens in the KV cache, per row. */
  get cachedTokens(): number {
    return this.cache.length;
  }

  /**
   * Bytes uploaded for the weights and the adapter, and held by the KV cache (what the device keeps
   * between runs): the fused cache at its capacity, kept across sequences; the plain one as long as its sequence.
   */
  memory(): SessionMemory {
    const { kvCache, rotary } = this.cache.bytes();
    return {
      weights: tensorBytes(this.weights.values()),
      lora: [...this.adapters.values()].reduce((sum, { owned }) => sum + tensorBytes(owned), tensorBytes(this.zeroBranches.values())),
      kvCache,
      rotary,
    };
  }

  async release(): Promise<void> {
    this.cache.release();
    for (const { owned } of this.adapters.values()) for (const t of owned) this.runtime.release(t);
    this.adapters.clear();
    for (const t of this.zeroBranches.values()) this.runtime.release(t);
    this.zeroBranches.clear();
    this.lora = {};
    for (const t of this.weights.values()) this.runtime.release(t);
    for (const graph of this.built.values()) await graph.release();
    this.built.clear();
  }
}
