// What loading a Qwen3 checkpoint costs on this GPU, and whether its tensors fit the device's
// buffer limits (checked before downloading a gigabyte that could not be bound). Computed from
// the layout the session builds (src/model/qwen3/layout.ts), so that what passes here loads.
import type { Qwen3Config } from '../config.ts';
import { floatBytes, layoutBytes, layoutRefusal, tensorBytes, vectorDtype, weightLayout, type LayoutDtype } from '../qwen3/layout.ts';
import { qwen3TensorShapes } from '../tensors.ts';

/** The two GPUSupportedLimits that bound one weight buffer. */
export interface BufferLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

export interface LoadEstimate {
  /** All weights in the load's layout (what Qwen3Session.memory().weights reports once loaded). */
  totalBytes: number;
  /** Tensors of the checkpoint (before any vocabulary tensor is cut into chunks). */
  tensorCount: number;
  largestTensor: { name: string; shape: number[]; bytes: number };
  /** K and V of every layer for 1,024 positions: float32, float16 under q4f16 (decoder-fused.ts). */
  kvCacheBytesPer1kTokens: number;
  /** Chunks the session cuts the embedding / LM head into (weightLayout); 1 when whole, 0 when refused. */
  vocabChunks: number;
  /** Why the model cannot be loaded on this device, or null. */
  refusal: string | null;
}

/** The page's names of the weight layouts: f32, f16 (shader-f16), q4 and q4f16 (4-bit matrices, inference only; q4f16 needs shader-f16). */
export type LoadDtype = 'f32' | 'f16' | 'q4' | 'q4f16';
export const layoutDtype: Record<LoadDtype, LayoutDtype> = { f32: 'float32', f16: 'float16', q4: 'q4', q4f16: 'q4f16' };

export function estimateLoad(config: Qwen3Config, dtype: LoadDtype, limits: BufferLimits): LoadEstimate {
  const weightDtype = layoutDtype[dtype];
  // One buffer holds one tensor and is bound whole, so it must respect both limits.
  const maxBindingBytes = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  const shapes = qwen3TensorShapes(config);
  let largestTensor = { name: '', shape: [] as number[], bytes: -1 };
  for (const [name, shape] of shapes) {
    const bytes = tensorBytes(weightDtype, shape);
    if (bytes > largestTensor.bytes) largestTensor = { name, shape, bytes };
  }
  const refused = layoutRefusal(config, maxBindingBytes, weightDtype);
  const layout = refused ? null : weightLayout(config, { maxBindingBytes, weightDtype });
  // The session's graph inputs (layout.ts): the vocabulary by chunk, a q4 matrix as its codes and
  // scales; refused, the checkpoint's tensors in that layout's types.
  const totalBytes = layoutBytes(config, layout ?? { dtype: weightDtype, chunks: [{ start: 0, rows: config.vocabSize }] });
  return {
    totalBytes,
    tensorCount: shapes.size,
    largestTensor,
    kvCacheBytesPer1kTokens: 2 * config.numLayers * config.numKvHeads * config.headDim * 1024 * floatBytes(vectorDtype(weightDtype)),
    vocabChunks: layout?.chunks.length ?? 0,
    refusal: refused && `${refused} (this GPU: maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize}, maxBufferSize ${limits.maxBufferSize})`,
  };
}
