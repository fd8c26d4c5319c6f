// What a LoRA run will hold on the device, said before it starts: the resident base weights, the
// LoRA state (LORA_COPIES) and the peak of the train step's intermediates for its largest
// micro-batch, read off the very graph the trainer builds (src/onnx/liveness.ts: build order, so
// an estimate of ORT's plan, not a measurement), each in the buffer onnxruntime-web's WebGPU EP
// makes for it and kept in its pool (ortWebGpuPeak). The graph costs ~1 s to build at Qwen3-0.6B
// and nothing is allocated for it. Measured against the live GPU buffers of a step on WebGPU:
// bench/RESULTS.md "train step on WebGPU (SwiftShader)".
import type { Qwen3Config } from '../model/config.ts';
import { fusedDecoderRefusal } from '../model/qwen3/decoder-fused.ts';
import type { WeightLayout } from '../model/qwen3/layout.ts';
import { cacheCapacity } from './fused-cache.ts';
import { sequenceScorerGraph } from '../model/qwen3/score-graph.ts';
import { lossChunkPositions, trainStepGraph } from '../model/qwen3/train-step.ts';
import { loraSites } from '../model/tensors.ts';
import { liveness, type Liveness } from '../onnx/liveness.ts';
import { lossPositions } from './batches.ts';
import type { GrpoConfig } from './grpo-config.ts';
import type { TrainConfig } from './train-config.ts';

export interface TrainMemoryEstimate {
  weights: number;
  lora: number;
  activations: number;
  total: number;
  /** The micro-batch the activations are for: the most rows × the longest bucket the settings allow. */
  microBatch: { rows: number; length: number };
}

/**
 * Float32 copies of every LoRA matrix alive at once, at the AdamW update: the matrix and its two
 * moments, the gradient (one micro-batch's, or the accumulated sum), and the next matrix and
 * moments, which exist before the old ones are released. (Accumulating holds 6: the state, the
 * sum, a micro-batch's gradient and the next sum.)
 */
const LORA_COPIES = 7;

/**
 * onnxruntime-web's WebGPU storage-buffer buckets (onnxruntime/core/providers/webgpu/buffer_manager.cc,
 * BUCKET_DEFAULT_LIMIT_TABLE): [bytes, pooled buffers at most]. A tensor gets the smallest bucket
 * that holds it; a released buffer goes back to its bucket's pool (still allocated, for the next
 * tensor of that bucket) unless the pool is full; past the largest bucket it is freed.
 */
const ORT_WEBGPU_BUCKETS: readonly (readonly [number, number])[] = [
  [64, 250], [128, 200], [256, 200], [512, 200], [2048, 230], [4096, 200], [8192, 50], [16384, 50], [32768, 50], [65536, 50],
  [131072, 50], [262144, 50], [524288, 50], [1048576, 50], [2097152, 30], [4194304, 20], [8388608, 10], [12582912, 10],
  [16777216, 10], [26214400, 15], [33554432, 22], [44236800, 2], [58982400, 6], [67108864, 6], [134217728, 6], [167772160, 6],
];
const POOL_LIMIT = new Map(ORT_WEBGPU_BUCKETS);

/**
 * The bytes of the GPU buffer ORT's WebGPU EP makes for a tensor of `bytes`: its bucket, or past the
 * largest (160 MiB) the size rounded up to 16. Up to twice the tensor (64–128 MiB: the 128 MiB bucket).
 */
export function ortBufferBytes(bytes: number): number {
  return ORT_WEBGPU_BUCKETS.find(([b]) => b >= bytes)?.[0] ?? Math.ceil(bytes / 16) * 16;
}

/**
 * The most GPU bytes ORT's WebGPU EP holds for a graph's intermediates run in build order: each in
 * its bucket, and once its last reader has run back in its bucket's pool — still allocated, up to
 * the pool's limit, for the next tensor of that bucket — or, past the buckets, freed. So a bucket
 * keeps as many buffers as it ever had in use at once, whatever else is in use then.
 */
export function ortWebGpuPeak(lifetimes: Liveness['lifetimes']): number {
  const events = new Map<number, { born: number[]; freed: number[] }>();
  const at = (i: number) => events.get(i) ?? events.set(i, { born: [], freed: [] }).get(i)!;
  for (const { bytes, born, last } of lifetimes) {
    at(born).born.push(ortBufferBytes(bytes));
    at(last).freed.push(ortBufferBytes(bytes));
  }
  const pooled = new Map<number, number>();
  let allocated = 0;
  let peak = 0;
  for (const i of [...events.keys()].sort((a, b) => a - b)) {
    const { born, freed } = events.get(i)!;
    for (const size of born) {
      const free = pooled.get(size) ?? 0;
      if (free > 0) pooled.set(size, free - 1);
      else allocated += size;
    }
    peak = Math.max(peak, allocated);
    for (const size of freed) {
      const free = pooled.get(size) ?? 0;
      if (free < (POOL_LIMIT.get(size) ?? 0)) pooled.set(size, free + 1);
      else allocated -= size;
    }
  }
  return peak;
}

/**
 * The loss-head buffer ORT's WebGPU EP holds beyond build order: every step measured with two or
 * more loss chunks (bench/RESULTS.md, "train step on WebGPU": tiny and mid at 256 tokens, with and
 * without recompute) held three buffers of the chunk's [C, V_k] logits where build order keeps two,
 * and tying the chunks in order did not change it — likeliest, a released buffer is not handed out
 * again until the work recorded before it is submitted. Counted, so that the page does not call a
 * run that is one such buffer over its budget a fit.
 */
function unsubmittedLossBuffer(layout: WeightLayout, positions: number): number {
  const chunk = lossChunkPositions(layout);
  return positions > chunk ? ortBufferBytes(4 * chunk * Math.max(...layout.chunks.map((k) => k.rows))) : 0;
}

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
  let loraCopy = 0;
  for (const { outFeatures, inFeatures } of loraSites(model, lora.targets)) loraCopy += ortBufferBytes(4 * lora.r * inFeatures) + ortBufferBytes(4 * outFeatures * lora.r);
  const microBatch = largestMicroBatch(config);
  // Every token of the micro-batch scored: the loss head at its largest (whole-sequence loss).
  const positions = lossPositions(microBatch.rows * microBatch.length);
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
  const { lifetimes } = liveness(graph, (node) => node.startsWith('grad/') || node.startsWith('recompute/'));
  const activations = ortWebGpuPeak(lifetimes) + unsubmittedLossBuffer(layout, positions);
  const loraBytes = loraCopy * LORA_COPIES;
  return { weights: weightBytes, lora: loraBytes, activations, total: weightBytes + loraBytes + activations, microBatch };
}

/** A GRPO run's: its update (an SFT step of the same LoRA, batch and max length) and what a step's sampling and reference pass add. */
export interface GrpoMemoryEstimate extends TrainMemoryEstimate {
  /**
   * The KV cache of a prompt's G completions, sampled together (grpo-rollout.ts): the fused graphs'
   * at its capacity for training.max_length tokens, written in place; the plain graphs' twice at
   * max_length, as a decode step holds the past and the present it makes.
   */
  sampling: number;
  /** The reference pass (sequence-logps.ts): one forward over a completion at its longest, its log-probs at max_completion_length positions. */
  reference: number;
}

/**
 * The update, sampling and reference pass run one after the other, but ORT's pool keeps each
 * phase's buffers in their buckets for the next (ortWebGpuPeak), so their sum is the bound said.
 */
export function grpoMemoryEstimate(model: Qwen3Config, layout: WeightLayout, config: GrpoConfig, weightBytes: number): GrpoMemoryEstimate {
  const update = trainMemoryEstimate(model, layout, config.train, weightBytes);
  const length = config.train.training.maxLength;
  const rows = config.grpo.numGenerations;
  const fused = fusedDecoderRefusal(model) === null; // what the session runs (session.ts `fused`)
  const positions = fused ? cacheCapacity(length) : length;
  const cache = 2 * model.numLayers * ortBufferBytes(4 * rows * model.numKvHeads * positions * model.headDim); // keys and values, [G, KV, S, hd] per layer
  const sampling = fused ? cache : 2 * cache;
  const scorer = sequenceScorerGraph(model, { layout, lora: false, shape: { length, positions: Math.min(length, config.grpo.maxCompletionLength) } });
  const reference = ortWebGpuPeak(liveness(scorer).lifetimes);
  return { ...update, sampling, reference, total: update.total + sampling + reference };
}

const gb = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`;

/** "2.41 GB (weights 1.19 GB, LoRA state 0.20 GB, activations 1.02 GB for 4 × 512 tokens)". */
export function estimateText(e: TrainMemoryEstimate | GrpoMemoryEstimate): string {
  const grpo = 'sampling' in e ? `, sampling's KV cache ${gb(e.sampling)}, reference pass ${gb(e.reference)}` : '';
  return `${gb(e.total)} (weights ${gb(e.weights)}, LoRA state ${gb(e.lora)}, activations ${gb(e.activations)} for micro-batches of ${e.microBatch.rows} × ${e.microBatch.length} tokens${grpo})`;
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
