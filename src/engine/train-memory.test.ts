// The memory a run is told before it starts: weights as the session holds them, the LoRA state
// counted from the adapter's shapes, and the activation peak of the train-step graph the trainer
// builds — which per-layer recompute and micro-batch tokens lower — and a refusal that names the
// settings to change.
import { describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import { newAdapter } from '../model/peft.ts';
import { weightLayout } from '../model/qwen3/layout.ts';
import { nodeRuntime } from './runtime-node.ts';
import { Qwen3Session } from './session.ts';
import type { TrainConfig } from './train-config.ts';
import { loadBundledTokenizer } from './tokenizer-node.ts';
import { runTrainJob } from './train-job.ts';
import { largestMicroBatch, trainMemoryEstimate, trainMemoryRefusal } from './train-memory.ts';

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
  it('counts the weights the session holds and five float32 copies of every LoRA element', async () => {
    const session = await Qwen3Session.load(nodeRuntime, model, tinyModelWeights(model, 1));
    const e = trainMemoryEstimate(model, session.layout, config, session.memory().weights);
    const adapter = newAdapter(model, { r: 4, alpha: 8, targets: config.lora.targets, seed: 1 });
    const elements = adapter.layers.flatMap((l) => Object.values(l)).reduce((n, p) => n + p!.a.length + p!.b.length, 0);
    expect(e.lora).toBe(elements * 4 * 5);
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
