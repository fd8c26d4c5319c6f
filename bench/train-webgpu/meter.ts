// The bytes of GPU buffers alive on a device and their peak: createBuffer and destroy are wrapped
// (on top of runtime-web.ts's own counting), so whatever ORT holds — tensors in use, its bucket
// pool of released buffers, uniforms, staging — is seen as the GPU sees it. Buffers made before
// the meter was attached are not counted, nor is their destroy.

export interface BufferMeter {
  /** Bytes alive now. */
  readonly live: number;
  /** The most bytes alive at once since the last reset. */
  readonly peak: number;
  /** Live buffers by size at the peak: [bytes of one buffer, count], largest total first. */
  readonly atPeak: [number, number][];
  /** Buffers created since the last reset. */
  readonly created: number;
  /** Starts a new peak from what is alive now. */
  reset(): void;
}

export function meterBuffers(gpu: Pick<GPUDevice, 'createBuffer'>): BufferMeter {
  let live = 0;
  let peak = 0;
  let created = 0;
  const bySize = new Map<number, number>();
  let atPeak = new Map<number, number>();
  const count = (size: number, delta: number) => {
    const n = (bySize.get(size) ?? 0) + delta;
    if (n === 0) bySize.delete(size);
    else bySize.set(size, n);
  };
  const createBuffer = gpu.createBuffer.bind(gpu);
  gpu.createBuffer = (descriptor: GPUBufferDescriptor) => {
    const buffer = createBuffer(descriptor);
    const size = descriptor.size;
    const destroy = buffer.destroy.bind(buffer);
    let alive = true;
    live += size;
    created += 1;
    count(size, 1);
    if (live > peak) {
      peak = live;
      atPeak = new Map(bySize);
    }
    buffer.destroy = () => {
      if (alive) {
        alive = false;
        live -= size;
        count(size, -1);
      }
      destroy();
    };
    return buffer;
  };
  return {
    get live() {
      return live;
    },
    get peak() {
      return peak;
    },
    get created() {
      return created;
    },
    get atPeak() {
      return [...atPeak].sort((a, b) => b[0] * b[1] - a[0] * a[1]);
    },
    reset() {
      peak = live;
      created = 0;
      atPeak = new Map(bySize);
    },
  };
}
