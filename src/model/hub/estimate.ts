// What loading a Qwen3 checkpoint costs on this GPU, and whether its tensors fit the device's
// buffer limits (checked before downloading a gigabyte that could not be bound). Computed from
// the layout the session builds (src/model/qwen3/layout.ts), so that what passes here loads.
import type { Qwen3Config } from '../config.ts';
import { layoutRefusal, layoutShapes, weightLayout } from '../qwen3/layout.ts';
import { qwen3TensorShapes } from '../tensors.ts';

/** The two GPUSupportedLimits that bound one weight buffer. */
export interface BufferLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

export interface LoadEstimate {
  /** All weights at the load dtype (what Qwen3Session.memory().weights reports once loaded). */
  totalBytes: number;
  /** Tensors of the checkpoint (before any vocabulary tensor is cut into chunks). */
  tensorCount: number;
  largestTensor: { name: string; shape: number[]; bytes: number };
  /** K and V of every layer for 1,024 positions: float32 whatever the weights (decoder.ts). */
  kvCacheBytesPer1kTokens: number;
  /** Chunks the session cuts the embedding / LM head into (weightLayout); 1 when whole, 0 when refused. */
  vocabChunks: number;
  /** Why the model cannot be loaded on this device, or null. */
  refusal: string | null;
}

const dtypeBytes = { f32: 4, f16: 2 } as const;
const count = (dims: readonly number[]) => dims.reduce((a, d) => a * d, 1);

export function estimateLoad(config: Qwen3Config, dtype: 'f32' | 'f16', limits: BufferLimits): LoadEstimate {
  const bytes = dtypeBytes[dtype];
  // One buffer holds one tensor and is bound whole, so it must respect both limits.
  const maxBindingBytes = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  const shapes = qwen3TensorShapes(config);
  let largestTensor = { name: '', shape: [] as number[], bytes: -1 };
  for (const [name, shape] of shapes) {
    if (count(shape) * bytes > largestTensor.bytes) largestTensor = { name, shape, bytes: count(shape) * bytes };
  }
  const refused = layoutRefusal(config, maxBindingBytes);
  const layout = refused ? null : weightLayout(config, { maxBindingBytes, weightDtype: dtype === 'f16' ? 'float16' : 'float32' });
  // The session's graph inputs: the same elements as the checkpoint, the vocabulary by chunk.
  const totalBytes = [...(layout ? layoutShapes(config, layout) : shapes).values()].reduce((sum, dims) => sum + count(dims) * bytes, 0);
  return {
    totalBytes,
    tensorCount: shapes.size,
    largestTensor,
    kvCacheBytesPer1kTokens: 2 * config.numLayers * config.numKvHeads * config.headDim * 1024 * 4,
    vocabChunks: layout?.chunks.length ?? 0,
    refusal: refused && `${refused} (this GPU: maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize}, maxBufferSize ${limits.maxBufferSize})`,
  };
}
