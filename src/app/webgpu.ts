import { messageOf } from './format.ts';
// What the header says about WebGPU: the adapter's identity, whether fp16 shaders are
// available, and the buffer limits that decide how a model's weights must be split.

/** The parts of `navigator.gpu` the probe reads (structural, so tests can pass their own). */
export interface GpuLike {
  requestAdapter(options?: GPURequestAdapterOptions): Promise<AdapterLike | null>;
}
export interface AdapterLike {
  readonly info?: Partial<Pick<GPUAdapterInfo, 'vendor' | 'architecture' | 'device' | 'description'>>;
  readonly features: { has(name: string): boolean };
  readonly limits: Pick<GPUSupportedLimits, 'maxBufferSize' | 'maxStorageBufferBindingSize'>;
}

export type WebGPUStatus =
  | { state: 'checking' }
  | { state: 'unavailable'; reason: string }
  | {
      state: 'ready';
      vendor: string;
      architecture: string;
      description: string;
      shaderF16: boolean;
      maxBufferSize: number;
      maxStorageBufferBindingSize: number;
    };

export async function probeWebGPU(gpu: GpuLike | undefined, secure: boolean): Promise<WebGPUStatus> {
  if (!gpu) {
    return {
      state: 'unavailable',
      reason: secure
        ? 'This browser exposes no navigator.gpu. Use a recent Chrome or Edge (WebGPU is on by default), or enable WebGPU in your browser settings.'
        : 'WebGPU needs a secure context: open the page over https:// or from localhost.',
    };
  }
  let adapter: AdapterLike | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    return { state: 'unavailable', reason: `requestAdapter() failed: ${messageOf(err)}` };
  }
  if (!adapter) {
    return {
      state: 'unavailable',
      reason: 'navigator.gpu exists but requestAdapter() returned no adapter: the GPU may be blocklisted or its driver unsupported.',
    };
  }
  const info = adapter.info ?? {};
  return {
    state: 'ready',
    vendor: info.vendor || 'unknown vendor',
    architecture: info.architecture || 'unknown architecture',
    description: info.description ?? '',
    shaderF16: adapter.features.has('shader-f16'),
    maxBufferSize: adapter.limits.maxBufferSize,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
  };
}
