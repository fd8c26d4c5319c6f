// onnxruntime-web on WebGPU behind the Runtime interface (the browser). Device tensors are GPU
// buffers made on ORT's own device (a device of our own is refused by ORT) and bound with
// Tensor.fromGpuBuffer; every session output stays on the GPU and only what the caller names
// is read back. Imported as 'onnxruntime-web/webgpu', the entry transformers.js uses too, so the
// bundle holds one ORT.
import * as ort from 'onnxruntime-web/webgpu';
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import { ELEMENT_BYTES, ortConfigEntries, pickFeeds, tensorBytes, type DeviceTensor, type HostTensor, type Runtime, type Session, type SessionOptions, type Tensor } from './runtime.ts';
import { Graph } from '../onnx/index.ts';
import { parsePlacements, type Placements } from './placement.ts';

// The bundle embeds ORT's JS glue; only the .wasm is fetched, from this build (never a CDN —
// transformers.js points wasmPaths at jsdelivr when nothing set it first). Threads need
// cross-origin isolation, which a static host does not give: one thread, no warning.
function configureOrt(): void {
  ort.env.wasm.wasmPaths = { wasm: new URL(wasmUrl, import.meta.url).href };
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
}

// ORT's wasm prints its log through console functions it looks up when the module starts, so
// the tap must be in place before the first session: it passes everything on, except while a
// placement check collects the verbose session log.
const logTap: { capture: string[] | null } = { capture: null };
function tapConsole(): void {
  for (const sink of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const original = console[sink].bind(console);
    console[sink] = (...args: unknown[]) => (logTap.capture ? logTap.capture.push(args.map(String).join(' ')) : original(...args));
  }
}

// 16-byte sizes: ORT's own GPU allocations are rounded the same way, and writeBuffer needs 4.
const ALIGN = 16;
// GPUBufferUsage.STORAGE | COPY_SRC | COPY_DST (WebGPU spec values; TypeScript's DOM lib lacks the namespace).
const WEIGHT_USAGE = 0x80 | 0x04 | 0x08;
// GPUBufferUsage.MAP_READ | COPY_DST, and GPUMapMode.READ: a staging buffer to read an upload back.
const READ_USAGE = 0x01 | 0x08;
const MAP_READ = 0x01;

/** GPU memory this runtime holds in buffers it made (weights, adapters), for the memory report. */
export interface GpuMemory {
  buffers: number;
  bytes: number;
}

/** Everything alive on ORT's device: the leak check of the memory report. */
export interface DeviceCounts {
  /** GPU buffers created on the device and not destroyed (ORT's pool included). */
  buffers: number;
  bytes: number;
  /** ORT tensors this runtime handed out (uploads, kept run outputs) and not yet released. */
  tensors: number;
}

// Counts every buffer made on the device from now on: ORT allocates through the same GPUDevice
// object, so its pool, uniforms and run outputs are seen too. Buffers made before (the warm-up
// session's) are not tracked, and neither is their destroy.
function countBuffers(gpu: GPUDevice, counts: DeviceCounts): void {
  const createBuffer = gpu.createBuffer.bind(gpu);
  gpu.createBuffer = (descriptor: GPUBufferDescriptor) => {
    const buffer = createBuffer(descriptor);
    const destroy = buffer.destroy.bind(buffer);
    let alive = true;
    counts.buffers += 1;
    counts.bytes += descriptor.size;
    buffer.destroy = () => {
      if (alive) {
        alive = false;
        counts.buffers -= 1;
        counts.bytes -= descriptor.size;
      }
      destroy();
    };
    return buffer;
  };
}

function toOrt(t: Tensor): ort.Tensor {
  if (t.kind === 'device') return t.handle as ort.Tensor;
  return new ort.Tensor(t.type, t.data, t.dims);
}

function wrap(t: ort.Tensor): DeviceTensor {
  return { kind: 'device', type: t.type as DeviceTensor['type'], dims: t.dims, handle: t };
}

// Live ORT device tensors, per runtime (one per worker); a tensor counts once however often it is released.
const live = new WeakSet<ort.Tensor>();
const counts: DeviceCounts = { buffers: 0, bytes: 0, tensors: 0 };

function track(t: ort.Tensor): DeviceTensor {
  if (!live.has(t)) {
    live.add(t);
    counts.tensors += 1;
  }
  return wrap(t);
}

function untrack(t: ort.Tensor): void {
  if (live.delete(t)) counts.tensors -= 1;
}

async function toHost(t: ort.Tensor, release: boolean): Promise<HostTensor> {
  const data = (await t.getData(release)) as HostTensor['data'];
  return { kind: 'host', type: t.type as HostTensor['type'], dims: t.dims, data };
}

class WebSession implements Session {
  constructor(private readonly session: ort.InferenceSession) {}

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  async run(feeds: Readonly<Record<string, Tensor>>, toHostNames: readonly string[] = [], into: Readonly<Record<string, DeviceTensor>> = {}): Promise<Record<string, Tensor>> {
    const inputs = pickFeeds(this.session.inputNames, feeds, toOrt);
    // ORT registers a GPU buffer once however often it is bound (webgpuRegisterBuffer counts the
    // bindings), so a tensor fed as an input and given as an output is one buffer to the kernel.
    const results = Object.keys(into).length
      ? await this.session.run(inputs, Object.fromEntries(this.session.outputNames.map((name) => [name, into[name] ? toOrt(into[name]) : null])))
      : await this.session.run(inputs);
    const out: Record<string, Tensor> = {};
    for (const [name, value] of Object.entries(results)) {
      out[name] = into[name] ?? (toHostNames.includes(name) ? await toHost(value, true) : track(value));
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

export interface WebRuntime extends Runtime {
  /** ORT's GPU device (created on first use). */
  device(): Promise<GPUDevice>;
  memory(): GpuMemory;
  /** Live buffers and tensors on the device (see countBuffers). */
  counts(): DeviceCounts;
  /**
   * Creates a throwaway session of `model` with ORT's verbose log captured and returns which
   * execution provider each node was placed on (ORT's "Node placements" report).
   */
  placements(model: Uint8Array): Promise<Placements>;
}

export function createWebRuntime(): WebRuntime {
  configureOrt();
  tapConsole();
  const memory: GpuMemory = { buffers: 0, bytes: 0 };
  const create = (model: Uint8Array, options: SessionOptions, verbose: boolean) =>
    ort.InferenceSession.create(model, {
      executionProviders: ['webgpu'],
      graphOptimizationLevel: options.optimization ?? 'all',
      preferredOutputLocation: 'gpu-buffer',
      ...(verbose ? { logSeverityLevel: 0, logVerbosityLevel: 0 } : {}),
      ...ortConfigEntries(options),
    });

  // ORT's WebGPU EP makes its device when the first WebGPU session is created (until then
  // env.webgpu.device is undefined) and destroys it with the last session, taking our weight
  // buffers with it: a one-node session, never released, brings the device up and keeps it.
  let ready: Promise<GPUDevice> | null = null;
  const device = (): Promise<GPUDevice> =>
    (ready ??= (async () => {
      if (!(await ort.env.webgpu.device)) {
        const g = new Graph('device-warmup');
        g.output(g.identity(g.input('x', 'float32', [1])), 'y');
        await create(g.toBytes(), {}, false);
      }
      const gpu = (await ort.env.webgpu.device) as GPUDevice | undefined;
      if (!gpu) throw new Error('onnxruntime-web created a WebGPU session but exposes no GPU device (ort.env.webgpu.device)');
      countBuffers(gpu, counts);
      return gpu;
    })());

  return {
    name: 'onnxruntime-web (webgpu)',
    headNormInAttention: true,
    device,
    fallbackAdapter: async () => (await device()).adapterInfo?.isFallbackAdapter === true,
    memory: () => ({ ...memory }),
    counts: () => ({ ...counts }),

    async createSession(model: Uint8Array, options: SessionOptions = {}): Promise<Session> {
      return new WebSession(await create(model, options, options.verbose ?? false));
    },

    async upload(tensor: HostTensor): Promise<DeviceTensor> {
      if (tensor.data.length === 0) return wrap(toOrt(tensor));
      const gpu = await device();
      const bytes = tensor.data.length * ELEMENT_BYTES[tensor.type];
      const limit = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
      if (bytes > limit) {
        throw new Error(
          `${tensor.type} [${tensor.dims.join(', ')}] is ${bytes} bytes, over this GPU's buffer limit of ${limit} bytes ` +
            `(maxStorageBufferBindingSize ${gpu.limits.maxStorageBufferBindingSize}, maxBufferSize ${gpu.limits.maxBufferSize})`,
        );
      }
      const size = Math.ceil(bytes / ALIGN) * ALIGN;
      const buffer = gpu.createBuffer({ size, usage: WEIGHT_USAGE });
      const view = tensor.data;
      gpu.queue.writeBuffer(buffer, 0, view.buffer as ArrayBuffer, view.byteOffset, bytes);
      memory.buffers += 1;
      memory.bytes += size;
      const dispose = () => {
        buffer.destroy();
        memory.buffers -= 1;
        memory.bytes -= size;
      };
      // An upload can be read back (a trainer's fresh or resumed state is one, and a checkpoint reads it): through a staging buffer.
      const Data = tensor.data.constructor as new (buffer: ArrayBuffer) => HostTensor['data'];
      const download = async () => {
        const staging = gpu.createBuffer({ size, usage: READ_USAGE });
        try {
          const encoder = gpu.createCommandEncoder();
          encoder.copyBufferToBuffer(buffer, 0, staging, 0, size);
          gpu.queue.submit([encoder.finish()]);
          await staging.mapAsync(MAP_READ);
          return new Data(staging.getMappedRange(0, size).slice(0, bytes)) as never;
        } finally {
          staging.destroy();
        }
      };
      const dataType = tensor.type as ort.Tensor.GpuBufferDataTypes;
      return track(ort.Tensor.fromGpuBuffer(buffer, { dataType, dims: tensor.dims, dispose, download }));
    },

    async write(tensor: DeviceTensor, data: HostTensor['data']): Promise<void> {
      const buffer = (tensor.handle as ort.Tensor).gpuBuffer as GPUBuffer;
      const bytes = data.length * ELEMENT_BYTES[tensor.type];
      if (bytes !== tensorBytes([tensor])) throw new Error(`write: ${tensor.type} [${tensor.dims.join(', ')}] does not hold ${data.length} elements`);
      (await device()).queue.writeBuffer(buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, bytes);
    },

    async download(tensor: Tensor): Promise<HostTensor> {
      return tensor.kind === 'host' ? tensor : toHost(tensor.handle as ort.Tensor, false);
    },

    release(tensor: Tensor): void {
      if (tensor.kind !== 'device') return;
      const t = tensor.handle as ort.Tensor;
      untrack(t);
      t.dispose();
    },

    async placements(model: Uint8Array): Promise<Placements> {
      const level = ort.env.logLevel;
      ort.env.logLevel = 'verbose';
      const lines: string[] = [];
      logTap.capture = lines;
      let session: ort.InferenceSession;
      try {
        session = await create(model, {}, true);
      } finally {
        ort.env.logLevel = level;
        logTap.capture = null;
      }
      await session.release();
      return parsePlacements(lines);
    },
  };
}
