// The memory a run is told before it starts: weights as the session holds them, the LoRA state
// counted from the adapter's shapes, and the activation peak of the train-step graph the trainer
// builds — which per-layer recompute and micro-batch tokens lower — and a refusal that names the
// settings to change.
import { describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import { newAdapter } from '../model/peft.ts';
import { weightLayout } from '../model/qwen3/layout.ts';
import { lossChunkPositions, trainStepGraph } from '../model/qwen3/train-step.ts';
import { liveness } from '../onnx/liveness.ts';
import { nodeRuntime } from './runtime-node.ts';
import { Qwen3Session } from './session.ts';
import type { TrainConfig } from './train-config.ts';
import { loadBundledTokenizer } from './tokenizer-node.ts';
import { runTrainJob } from './train-job.ts';
import { grpoMemoryEstimate, largestMicroBatch, ortBufferBytes, ortWebGpuPeak, trainMemoryEstimate, trainMemoryRefusal } from './train-memory.ts';
import { parseGrpoConfig } from './grpo-config.ts';
import { readFileSync } from 'node:fs';

const config: TrainConfig = {
  lora: { r: 4, alpha: 8, dropout: 0, rslora: false, targets: ['q_proj', 'v_proj', 'down_proj'] },
  optimizer: { lr: 1e-3, schedule: 'cosine', warmupRatio: 0, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, maxGradNorm: 1 },
  training: { epochs: 1, batchSize: 4, gradAccum: 1, maxLength: 64, lossOn: 'all', seed: 1 },
  eval: { split: 0, seed: 1 },
  promptFormat: 'qmd-v4',
};
const model = tinyModelConfig();
const layout = weightLayout(model);

describe('trainMemoryEstimate', () => {
  it('counts the weights the session holds and seven float32 copies of every LoRA matrix, each in its ORT bucket', async () => {
    const session = await Qwen3Session.load(nodeRuntime, model, tinyModelWeights(model, 1));
    const e = trainMemoryEstimate(model, session.layout, config, session.memory().weights);
    const adapter = newAdapter(model, { r: 4, alpha: 8, targets: config.lora.targets, seed: 1 });
    // r 4 at hidden 64: A [4, 64] of q and v, B [64, 4] of q and down, A [4, 128] of down (1,024–2,048 bytes: the 2,048 bucket), B [32, 4] of v (512).
    const buffers = adapter.layers.flatMap((l) => Object.values(l)).flatMap((p) => [p!.a.length * 4, p!.b.length * 4]);
    expect(buffers.map(ortBufferBytes)).toEqual(buffers.map((b) => (b <= 512 ? 512 : 2048)));
    expect(e.lora).toBe(buffers.map(ortBufferBytes).reduce((a, b) => a + b) * 7);
    expect(e.weights).toBe(session.memory().weights);
    expect(e.total).toBe(e.weights + e.lora + e.activations);
    await session.release();
  });

  it('grows with the micro-batch, and recompute or micro-batch tokens lower the activations', () => {
    const at = (training: Partial<TrainConfig['training']>) => trainMemoryEstimate(model, layout, { ...config, training: { ...config.training, ...training } }, 0).activations;
    const whole = at({});
    expect(at({ batchSize: 1 })).toBeLessThan(whole / 2);
    expect(at({ microBatchTokens: 64 })).toBe(at({ batchSize: 1 }));
    expect(at({ recompute: true })).toBeLessThan(whole);
    expect(largestMicroBatch({ ...config, training: { ...config.training, microBatchTokens: 150 } })).toEqual({ rows: 2, length: 64 });
    // A budget below one row of max_length still runs that row alone.
    expect(largestMicroBatch({ ...config, training: { ...config.training, microBatchTokens: 10 } })).toEqual({ rows: 1, length: 64 });
  });
});

describe('ortBufferBytes', () => {
  it("rounds a tensor up to onnxruntime-web's WebGPU bucket, and past the largest to 16 bytes", () => {
    // Measured in bench/train-webgpu: the [64, 151936] float32 logits (38,895,616 bytes) got a 44,236,800-byte buffer.
    expect(ortBufferBytes(38_895_616)).toBe(44_236_800);
    expect(ortBufferBytes(44_236_800)).toBe(44_236_800);
    expect(ortBufferBytes(1)).toBe(64);
    expect(ortBufferBytes(600)).toBe(2048);
    expect(ortBufferBytes(67_108_865)).toBe(134_217_728);
    expect(ortBufferBytes(167_772_160)).toBe(167_772_160);
    expect(ortBufferBytes(167_772_161)).toBe(167_772_176);
  });

  it("holds a bucket's buffers in ORT's pool once released, up to the pool's limit, and frees those past the buckets", () => {
    const MiB = 2 ** 20;
    // One after the other in one bucket: the second tensor gets the first one's buffer back.
    expect(ortWebGpuPeak([{ bytes: 60 * MiB, born: 0, last: 1 }, { bytes: 62 * MiB, born: 2, last: 3 }])).toBe(64 * MiB);
    // A released 64 MiB buffer stays allocated while a tensor of another bucket is made.
    expect(ortWebGpuPeak([{ bytes: 60 * MiB, born: 0, last: 1 }, { bytes: 100 * MiB, born: 2, last: 3 }])).toBe(192 * MiB);
    // The 44,236,800-byte bucket pools 2: of 3 released buffers one is freed before the 1 MiB tensor.
    const three = [0, 1, 2].map(() => ({ bytes: 40_000_000, born: 0, last: 1 }));
    expect(ortWebGpuPeak([...three, { bytes: MiB, born: 2, last: 3 }])).toBe(3 * 44_236_800);
    expect(ortWebGpuPeak([...three, { bytes: 200 * MiB, born: 2, last: 3 }])).toBe(2 * 44_236_800 + 200 * MiB);
    // Past the largest bucket a released buffer is freed.
    expect(ortWebGpuPeak([{ bytes: 200 * MiB, born: 0, last: 1 }, { bytes: 300 * MiB, born: 2, last: 3 }])).toBe(300 * MiB);
  });

  it("cuts the loss head so that its [C, V] logits take ORT's 64 MiB bucket, not the 128 MiB one", () => {
    const MiB = 2 ** 20;
    const positions = lossChunkPositions(layout); // V = 151,936 in one chunk
    expect(positions).toBe(110);
    expect(ortBufferBytes(4 * positions * model.vocabSize)).toBe(64 * MiB);
    expect(ortBufferBytes(4 * (positions + 1) * model.vocabSize)).toBe(128 * MiB);
    // No intermediate of a step scoring 256 positions needs a buffer over 64 MiB (128 positions a chunk made 78 MB logits).
    const { graph } = trainStepGraph(model, { batch: 1, length: 256, positions: 256, rank: 4, targets: config.lora.targets, dropout: false, layout, transposed: true });
    expect(Math.max(...liveness(graph).lifetimes.map((l) => ortBufferBytes(l.bytes)))).toBe(64 * MiB);
    // Vocabulary chunks: the largest chunk sets it, at most 128 positions.
    expect(lossChunkPositions(weightLayout(model, { maxBindingBytes: 64 * 1024 * 4 * 16 }))).toBe(128);
  });

  it("adds the one loss-chunk buffer ORT's pool was measured to hold beyond build order, only where the step has two or more loss chunks", () => {
    const MiB = 2 ** 20;
    const beyondBuildOrder = (batchSize: number, maxLength: number) => {
      const run = { ...config, training: { ...config.training, batchSize, maxLength } };
      const positions = batchSize * maxLength;
      const { graph } = trainStepGraph(model, { batch: batchSize, length: maxLength, positions, rank: 4, targets: config.lora.targets, dropout: false, layout, transposed: true, recomputeLayers: false });
      const inBuildOrder = ortWebGpuPeak(liveness(graph, (node) => node.startsWith('grad/') || node.startsWith('recompute/')).lifetimes);
      return trainMemoryEstimate(model, layout, run, 0).activations - inBuildOrder;
    };
    expect(beyondBuildOrder(1, 64)).toBe(0); // 64 positions: one chunk of at most 110
    expect(beyondBuildOrder(1, 128)).toBe(64 * MiB); // two chunks: one [110, 151936] float32 buffer more
    expect(beyondBuildOrder(4, 64)).toBe(64 * MiB);
  });

  it('makes the activation estimate at least the unrounded peak of the graph', () => {
    const e = trainMemoryEstimate(model, layout, config, 0);
    const graph = trainStepGraph(model, { batch: 4, length: 64, positions: 256, rank: 4, targets: config.lora.targets, dropout: false, layout, transposed: true, recomputeLayers: false }).graph;
    const peak = liveness(graph, (node) => node.startsWith('grad/') || node.startsWith('recompute/')).peakBytes;
    // Tiny tensors in 64-byte or larger buckets: well over the bytes they hold.
    expect(e.activations).toBeGreaterThan(peak);
  });
});

describe('trainMemoryRefusal', () => {
  const e = trainMemoryEstimate(model, layout, config, 1_000_000);
  it('passes what fits and names the settings that lower the rest', () => {
    expect(trainMemoryRefusal(e, e.total, config)).toBeNull();
    const refusal = trainMemoryRefusal(e, e.total - 1, config)!;
    expect(refusal).toMatch(/^the run needs an estimated [\d.]+ GB \(weights [\d.]+ GB, LoRA state [\d.]+ GB, activations [\d.]+ GB for micro-batches of 4 × 64 tokens\), over this GPU's budget of/);
    expect(refusal).toContain('turn on training.recompute');
    expect(refusal).toContain('set training.micro_batch_tokens to 64');
    expect(refusal).toContain('lower training.max_length (now 64)');
    const recomputing = { ...config, training: { ...config.training, recompute: true, batchSize: 1 } };
    const single = trainMemoryRefusal(trainMemoryEstimate(model, layout, recomputing, 1_000_000), 0, recomputing)!;
    expect(single).not.toContain('recompute');
    expect(single).not.toContain('micro_batch_tokens');
  });
});

describe('runTrainJob with a memory budget', () => {
  it('refuses a run over it before any graph is built, naming the settings', async () => {
    const session = await Qwen3Session.load(nodeRuntime, model, tinyModelWeights(model, 1));
    const tokenizer = await loadBundledTokenizer();
    const rows = { train: [{ query: 'nginx proxy', completion: 'lex: nginx proxy_pass' }], validation: [] };
    const graphs: unknown[] = [];
    const job = { rows, config, maxSteps: 1, memoryBudget: 1_000 };
    await expect(runTrainJob(nodeRuntime, { config: model, tokenizer, session }, job, { onProgress: (p) => graphs.push(p) })).rejects.toMatchObject({
      code: 'too_large',
      message: expect.stringMatching(/^cannot train: the run needs an estimated .* over this GPU's budget of 0\.00 GB: turn on training\.recompute/),
    });
    expect(graphs).toEqual([]);
    await session.release();
  });
});

describe('grpoMemoryEstimate', () => {
  const grpo = parseGrpoConfig(readFileSync(new URL('../../configs/grpo.yaml', import.meta.url), 'utf8'), 'configs/grpo.yaml');
  const run = { ...grpo, train: { ...grpo.train, training: { ...grpo.train.training, maxLength: 64 } }, grpo: { ...grpo.grpo, maxCompletionLength: 32 } };

  it("is the update's estimate plus one completion's KV cache (past and present) and the reference pass over it", () => {
    const e = grpoMemoryEstimate(model, layout, run, 1000);
    const update = trainMemoryEstimate(model, layout, run.train, 1000);
    // Tiny model: 2 layers, 2 KV heads × 16, so the fused graphs: G 4 completions' keys [4, 2, 256, 16] float32 (the
    // cache's first capacity, 256 ≥ max_length 64) = 131,072 bytes (its own bucket), values the same, written in place.
    expect(model).toMatchObject({ numLayers: 2, numKvHeads: 2, headDim: 16 });
    expect(run.grpo.numGenerations).toBe(4);
    expect(e.sampling).toBe(2 * 2 * 131_072);
    // head_dim 8 runs the plain graphs: [4, 2, 64, 8] = 16,384 bytes, past and present both alive.
    expect(grpoMemoryEstimate({ ...model, headDim: 8 }, layout, run, 1000).sampling).toBe(2 * (2 * 2 * 16_384));
    // The reference pass forms [32, 151,936] float32 logits at the least (19.4 MB: the 25 MiB bucket).
    expect(e.reference).toBeGreaterThanOrEqual(ortBufferBytes(4 * 32 * model.vocabSize));
    expect(e.total).toBe(update.total + e.sampling + e.reference);
    expect({ weights: e.weights, lora: e.lora, activations: e.activations }).toEqual({ weights: update.weights, lora: update.lora, activations: update.activations });
    // A budget the update alone fits is refused once sampling and the reference pass are counted, naming the settings.
    expect(trainMemoryRefusal(update, update.total, run.train)).toBeNull();
    expect(trainMemoryRefusal(e, update.total, run.train)).toMatch(/sampling's KV cache .*reference pass .*lower training\.max_length \(now 64\)/);
    // Longer completions: a larger reference pass.
    expect(grpoMemoryEstimate(model, layout, { ...run, grpo: { ...run.grpo, maxCompletionLength: 64 } }, 1000).reference).toBeGreaterThan(e.reference);
  });
});
