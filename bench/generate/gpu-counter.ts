// Counts what the page asks of the GPU, whoever asks (ours or transformers.js: one ORT, one
// device): compute dispatches by the pipeline they run, queue submits, and the bytes crossing
// between host and device. WebGPU's prototypes are wrapped, so the counter must be installed
// before either engine creates its device (ORT's WebGPU EP reaches the API through its JS
// bindings, and runtime-web.ts binds device.createBuffer when it first takes the device).
// Counts are totals since install; a phase's counts are the difference of two snapshots.

export interface Transfers {
  count: number;
  bytes: number;
}

export interface GpuCounts {
  dispatches: number;
  /** Dispatches by the label of the pipeline they ran (its shader module's, or 'unlabelled'). */
  kinds: Record<string, number>;
  submits: number;
  /** queue.writeBuffer into buffers that are not uniform buffers: host → device data. */
  writes: Transfers;
  /** queue.writeBuffer into uniform buffers: each dispatch's shape parameters. */
  uniformWrites: Transfers;
  /** Buffers created mapped (a staging buffer the host fills): host → device data. */
  mappedAtCreation: Transfers;
  /** commandEncoder.copyBufferToBuffer: device → device (staging in and out included). */
  copies: Transfers;
  /** buffer.mapAsync(READ): device → host readbacks. */
  readbacks: Transfers;
}

// WebGPU spec values (TypeScript's DOM lib lacks GPUBufferUsage and GPUMapMode at run time in Node).
const UNIFORM = 0x40;
const MAP_READ = 0x01;

const zero = (): GpuCounts => ({
  dispatches: 0,
  kinds: {},
  submits: 0,
  writes: { count: 0, bytes: 0 },
  uniformWrites: { count: 0, bytes: 0 },
  mappedAtCreation: { count: 0, bytes: 0 },
  copies: { count: 0, bytes: 0 },
  readbacks: { count: 0, bytes: 0 },
});

const transferKeys = ['writes', 'uniformWrites', 'mappedAtCreation', 'copies', 'readbacks'] as const;

/** `later` − `earlier`, kind by kind. */
export function countsBetween(earlier: GpuCounts, later: GpuCounts): GpuCounts {
  const out = zero();
  out.dispatches = later.dispatches - earlier.dispatches;
  out.submits = later.submits - earlier.submits;
  for (const [kind, n] of Object.entries(later.kinds)) {
    const d = n - (earlier.kinds[kind] ?? 0);
    if (d !== 0) out.kinds[kind] = d;
  }
  for (const key of transferKeys) out[key] = { count: later[key].count - earlier[key].count, bytes: later[key].bytes - earlier[key].bytes };
  return out;
}

export interface GpuCounter {
  snapshot(): GpuCounts;
}

const add = (t: Transfers, bytes: number) => {
  t.count += 1;
  t.bytes += bytes;
};

/** Wraps the WebGPU prototypes once; every later device's calls are counted. */
export function installGpuCounter(): GpuCounter {
  const totals = zero();
  const pipelineKind = new WeakMap<GPUComputePipeline, string>();
  const passPipeline = new WeakMap<GPUComputePassEncoder, GPUComputePipeline>();
  const kindOf = (descriptor: GPUComputePipelineDescriptor, pipeline: GPUComputePipeline) =>
    pipeline.label || descriptor.label || descriptor.compute.module.label || 'unlabelled';

  const device = GPUDevice.prototype;
  const createComputePipeline = device.createComputePipeline;
  device.createComputePipeline = function (this: GPUDevice, descriptor) {
    const pipeline = createComputePipeline.call(this, descriptor);
    pipelineKind.set(pipeline, kindOf(descriptor, pipeline));
    return pipeline;
  };
  const createComputePipelineAsync = device.createComputePipelineAsync;
  device.createComputePipelineAsync = async function (this: GPUDevice, descriptor) {
    const pipeline = await createComputePipelineAsync.call(this, descriptor);
    pipelineKind.set(pipeline, kindOf(descriptor, pipeline));
    return pipeline;
  };
  const createBuffer = device.createBuffer;
  device.createBuffer = function (this: GPUDevice, descriptor) {
    if (descriptor.mappedAtCreation) add(totals.mappedAtCreation, descriptor.size);
    return createBuffer.call(this, descriptor);
  };

  const pass = GPUComputePassEncoder.prototype;
  const setPipeline = pass.setPipeline;
  pass.setPipeline = function (this: GPUComputePassEncoder, pipeline) {
    passPipeline.set(this, pipeline);
    setPipeline.call(this, pipeline);
  };
  const dispatched = (encoder: GPUComputePassEncoder) => {
    const pipeline = passPipeline.get(encoder);
    const kind = (pipeline && pipelineKind.get(pipeline)) ?? 'unknown pipeline';
    totals.dispatches += 1;
    totals.kinds[kind] = (totals.kinds[kind] ?? 0) + 1;
  };
  const dispatchWorkgroups = pass.dispatchWorkgroups;
  pass.dispatchWorkgroups = function (this: GPUComputePassEncoder, ...args) {
    dispatched(this);
    dispatchWorkgroups.apply(this, args);
  };
  const dispatchWorkgroupsIndirect = pass.dispatchWorkgroupsIndirect;
  pass.dispatchWorkgroupsIndirect = function (this: GPUComputePassEncoder, ...args) {
    dispatched(this);
    dispatchWorkgroupsIndirect.apply(this, args);
  };

  const queue = GPUQueue.prototype;
  const writeBuffer = queue.writeBuffer;
  queue.writeBuffer = function (this: GPUQueue, buffer: GPUBuffer, offset: number, data: BufferSource, dataOffset = 0, size?: number) {
    // Offsets and sizes count elements of a typed array, bytes of an ArrayBuffer or DataView.
    const unit = 'BYTES_PER_ELEMENT' in data ? (data as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT : 1;
    const bytes = size !== undefined ? size * unit : data.byteLength - dataOffset * unit;
    add(buffer.usage & UNIFORM ? totals.uniformWrites : totals.writes, bytes);
    writeBuffer.call(this, buffer, offset, data as never, dataOffset, size);
  };
  const submit = queue.submit;
  queue.submit = function (this: GPUQueue, buffers) {
    totals.submits += 1;
    submit.call(this, buffers);
  };

  const encoder = GPUCommandEncoder.prototype;
  const copyBufferToBuffer = encoder.copyBufferToBuffer as (this: GPUCommandEncoder, ...args: unknown[]) => void;
  encoder.copyBufferToBuffer = function (this: GPUCommandEncoder, ...args: unknown[]) {
    // (source, sourceOffset, destination, destinationOffset, size), or (source, destination[, size]).
    const size = args.length >= 5 ? (args[4] as number | undefined) : (args[2] as number | undefined);
    const source = args[0] as GPUBuffer;
    const sourceOffset = args.length >= 5 ? (args[1] as number) : 0;
    add(totals.copies, size ?? source.size - sourceOffset);
    copyBufferToBuffer.apply(this, args);
  } as GPUCommandEncoder['copyBufferToBuffer'];

  const buffer = GPUBuffer.prototype;
  const mapAsync = buffer.mapAsync;
  buffer.mapAsync = function (this: GPUBuffer, mode: number, offset = 0, size?: number) {
    if (mode & MAP_READ) add(totals.readbacks, size ?? this.size - offset);
    return mapAsync.call(this, mode, offset, size);
  };

  return {
    snapshot: () => ({
      ...totals,
      kinds: { ...totals.kinds },
      ...Object.fromEntries(transferKeys.map((key) => [key, { ...totals[key] }])),
    }) as GpuCounts,
  };
}
