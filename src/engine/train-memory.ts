// What a LoRA run will hold on the device, said before it starts: the resident base weights, the
// LoRA state (matrix, two AdamW moments, gradient and accumulator per matrix) and the peak of the
// train step's intermediates for its largest micro-batch, read off the very graph the trainer
// builds (src/onnx/liveness.ts: build order, so an estimate of ORT's plan, not a measurement).
// The graph costs ~1 s to build at Qwen3-0.6B and nothing is allocated for it.
import type { Qwen3Config } from '../model/config.ts';
import type { WeightLayout } from '../model/qwen3/layout.ts';
import { trainStepGraph } from '../model/qwen3/train-step.ts';
import { loraSites } from '../model/tensors.ts';
import { liveness } from '../onnx/liveness.ts';
import { POSITION_STEP } from './batches.ts';
import type { TrainConfig } from './train-config.ts';

export interface TrainMemoryEstimate {
  weights: number;
  lora: number;
  activations: number;
  total: number;
  /** The micro-batch the activations are for: the most rows × the longest bucket the settings allow. */
  microBatch: { rows: number; length: number };
}

/** LoRA matrix, AdamW moment and velocity, gradient, accumulated gradient: float32 each. */
const LORA_COPIES = 5;

/** The largest micro-batch `config` can run: batch_size rows of max_length, fewer when micro_batch_tokens caps them. */
export function largestMicroBatch(config: TrainConfig): { rows: number; length: number } {
  const { batchSize, maxLength, microBatchTokens } = config.training;
  // Batches pad to a bucket of at most max_length (batches.ts bucket): the longest is max_length.
  const rows = microBatchTokens ? Math.max(1, Math.min(batchSize, Math.floor(microBatchTokens / maxLength))) : batchSize;
  return { rows, length: maxLength };
}

/** `weightBytes`: what the session's base weights take (Qwen3Session.memory().weights). */
export function trainMemoryEstimate(model: Qwen3Config, layout: WeightLayout, config: TrainConfig, weightBytes: number): TrainMemoryEstimate {
  const { lora, training } = config;
  let loraElements = 0;
  for (const { outFeatures, inFeatures } of loraSites(model, lora.targets)) loraElements += lora.r * (outFeatures + inFeatures);
  const microBatch = largestMicroBatch(config);
  // Every token of the micro-batch scored: the loss head at its largest (whole-sequence loss).
  const positions = Math.ceil((microBatch.rows * microBatch.length) / POSITION_STEP) * POSITION_STEP;
  const { graph } = trainStepGraph(model, {
    batch: microBatch.rows,
    length: microBatch.length,
    positions,
    rank: lora.r,
    targets: lora.targets,
    dropout: lora.dropout > 0,
    layout,
    transposed: true,
    recomputeLayers: training.recompute ?? false,
  });
  // Recomputed layers run inside the backward: what they make is not kept from the forward.
  const activations = liveness(graph, (node) => node.startsWith('grad/') || node.startsWith('recompute/')).peakBytes;
  const loraBytes = loraElements * 4 * LORA_COPIES;
  return { weights: weightBytes, lora: loraBytes, activations, total: weightBytes + loraBytes + activations, microBatch };
}

const gb = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`;

/** "2.41 GB (weights 1.19 GB, LoRA state 0.20 GB, activations 1.02 GB for 4 × 512 tokens)". */
export function estimateText(e: TrainMemoryEstimate): string {
  return `${gb(e.total)} (weights ${gb(e.weights)}, LoRA state ${gb(e.lora)}, activations ${gb(e.activations)} for micro-batches of ${e.microBatch.rows} × ${e.microBatch.length} tokens)`;
}

/**
 * Why `estimate` will not fit in `budgetBytes`, naming the settings that lower it, or null when it fits.
 * The settings are named in the order they cost the least: recompute and micro-batch tokens leave
 * the gradient as it is; a shorter max_length cuts rows.
 */
export function trainMemoryRefusal(estimate: TrainMemoryEstimate, budgetBytes: number, config: TrainConfig): string | null {
  if (estimate.total <= budgetBytes) return null;
  const t = config.training;
  const ways = [
    ...(t.recompute ? [] : ['turn on training.recompute (recompute layers in the backward)']),
    ...(estimate.microBatch.rows > 1 ? [`set training.micro_batch_tokens to ${estimate.microBatch.length} (one row of max_length at a time; the gradient is the same)`] : []),
    `lower training.max_length (now ${t.maxLength})`,
  ];
  return `the run needs an estimated ${estimateText(estimate)}, over this GPU's budget of ${gb(budgetBytes)}: ${ways.join(', or ')}`;
}
