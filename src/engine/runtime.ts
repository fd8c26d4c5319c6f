// The one interface the engine runs ONNX graphs through. onnxruntime-node (CPU: tests, CLI)
// and onnxruntime-web (WebGPU: the browser) each implement it in one small file; nothing
// else in the engine knows which one runs.
//
// Tensors come in two kinds. A HostTensor is a typed array the caller owns. A DeviceTensor
// lives where the runtime keeps it (a GPU buffer on WebGPU, ORT's own CPU tensor on node)
// and can be fed back as an input without a copy: weights are uploaded once, KV caches and
// optimizer state stay resident between runs, and only what the caller asks for is read back.

export type DType = 'float32' | 'float16' | 'int32' | 'int64' | 'bool' | 'uint8';

export type TensorData = Float32Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array;

export const ELEMENT_BYTES: Readonly<Record<DType, number>> = { float32: 4, float16: 2, int32: 4, int64: 8, bool: 1, uint8: 1 };

export interface HostTensor {
  readonly kind: 'host';
  readonly type: DType;
  readonly dims: readonly number[];
  readonly data: TensorData;
}

export interface DeviceTensor {
  readonly kind: 'device';
  readonly type: DType;
  readonly dims: readonly number[];
  /** Backend-owned handle (an ort.Tensor); only the runtime that made it may look inside. */
  readonly handle: unknown;
}

export type Tensor = HostTensor | DeviceTensor;

export interface SessionOptions {
  /** ORT graph optimizations; 'all' unless a test needs the graph exactly as built. */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** CPU threads for one run (node only; WebGPU ignores it). */
  threads?: number;
  /** Print ORT's node placements and timings (severity 0) — how CPU fallbacks are found on WebGPU. */
  verbose?: boolean;
  /** ORT graph optimizers to leave out, by name (train-step.ts TRAIN_STEP_DISABLED_OPTIMIZERS). */
  disabledOptimizers?: readonly string[];
}

/** The ORT session config entries `options` asks for (both runtimes pass them as `extra`). */
export const ortConfigEntries = (options: SessionOptions) =>
  options.disabledOptimizers?.length ? { extra: { optimization: { disable_specified_optimizers: options.disabledOptimizers.join(';') } } } : {};

export interface Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /**
   * Runs the graph. Outputs named in `toHost` come back as HostTensors; every other output
   * stays a DeviceTensor that the caller must `release` (or feed to the next run). Outputs in
   * `into` are written into those tensors (of the output's exact type and dims) and come back as
   * the same DeviceTensors: a KV cache allocated once and fed as its own past, which
   * GroupQueryAttention then extends in place (past and present one buffer) instead of copying.
   */
  run(feeds: Readonly<Record<string, Tensor>>, toHost?: readonly string[], into?: Readonly<Record<string, DeviceTensor>>): Promise<Record<string, Tensor>>;
  release(): Promise<void>;
}

export interface Runtime {
  readonly name: string;
  /**
   * Whether GroupQueryAttention takes Qwen3's q/k head norms as inputs (onnxruntime-web 1.31's
   * WebGPU kernel; onnxruntime-node 1.30's CPU kernel refuses them): the fused graphs then run
   * them inside it (decoder-fused.ts headNorm). Absent: false.
   */
  readonly headNormInAttention?: boolean;
  /**
   * Whether the device is a fallback adapter (WebGPU's isFallbackAdapter: a CPU rasterizer such as
   * SwiftShader), where the decoders' LM head runs by rows (forward.ts HeadProduct). Absent: false.
   */
  fallbackAdapter?(): Promise<boolean>;
  createSession(model: Uint8Array, options?: SessionOptions): Promise<Session>;
  /** Copies a host tensor to the device (a no-op wrap on CPU). */
  upload(tensor: HostTensor): Promise<DeviceTensor>;
  /** Overwrites a device tensor's elements with `data` (as many, of its type): a queued write, no new buffer. */
  write(tensor: DeviceTensor, data: TensorData): Promise<void>;
  /** Reads a tensor back; host tensors are returned as they are. */
  download(tensor: Tensor): Promise<HostTensor>;
  /** Frees a device tensor's memory; host tensors are left to the garbage collector. */
  release(tensor: Tensor): void;
}

export function hostTensor(type: DType, dims: readonly number[], data: TensorData): HostTensor {
  const size = dims.reduce((a, b) => a * b, 1);
  if (data.length !== size) {
    throw new Error(`hostTensor: ${type} [${dims.join(', ')}] needs ${size} elements, got ${data.length}`);
  }
  return { kind: 'host', type, dims, data };
}

/** Bytes of the tensors' elements. */
export const tensorBytes = (tensors: Iterable<Tensor>): number => [...tensors].reduce((sum, t) => sum + t.dims.reduce((a, d) => a * d, ELEMENT_BYTES[t.type]), 0);

/** Host inputs [name, dims, int64 or float32 data] (layout.ts tokenInputs, train-step.ts vocabularyInputs) as feeds. */
export const hostFeeds = (inputs: Iterable<readonly [string, readonly number[], BigInt64Array | Float32Array]>): Record<string, HostTensor> =>
  Object.fromEntries([...inputs].map(([name, dims, data]) => [name, hostTensor(data instanceof BigInt64Array ? 'int64' : 'float32', dims, data)]));

export const f32 = (dims: readonly number[], data: Float32Array | number[]): HostTensor =>
  hostTensor('float32', dims, data instanceof Float32Array ? data : Float32Array.from(data));

export const i64 = (dims: readonly number[], data: readonly number[] | BigInt64Array): HostTensor =>
  hostTensor('int64', dims, data instanceof BigInt64Array ? data : BigInt64Array.from(data, (v) => BigInt(v)));

export const i32 = (dims: readonly number[], data: readonly number[]): HostTensor => hostTensor('int32', dims, Int32Array.from(data));

/** Reads a float32 host tensor, failing with the tensor's name when it has another type. */
export function floats(t: Tensor | undefined, name: string): Float32Array {
  if (!t || t.kind !== 'host' || !(t.data instanceof Float32Array)) {
    throw new Error(`output ${name}: expected a float32 host tensor, got ${t ? `${t.kind} ${t.type}` : 'nothing'}`);
  }
  return t.data;
}

/** The session's inputs taken from `feeds` and converted, failing on the first one not fed. */
export function pickFeeds<T>(
  inputNames: readonly string[],
  feeds: Readonly<Record<string, Tensor>>,
  convert: (t: Tensor) => T,
): Record<string, T> {
  const picked: Record<string, T> = {};
  for (const name of inputNames) {
    const t = feeds[name];
    if (!t) throw new Error(`session input ${name}: not fed (fed: ${Object.keys(feeds).join(', ')})`);
    picked[name] = convert(t);
  }
  return picked;
}
