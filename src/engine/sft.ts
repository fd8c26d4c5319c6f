// Supervised fine-tuning as the reference run does it: shuffled epochs of micro-batches,
// `gradAccum` micro-batches per optimizer step, warmup + cosine learning rate.
import { shuffled } from '../random.ts';
import { makeBatch, type TrainBatch } from './batches.ts';
import type { TokenizedExample } from './tokenizer.ts';
import { learningRate, totalSteps, type TrainConfig } from './train-config.ts';
import type { Qwen3Config } from '../model/config.ts';
import { newAdapter } from '../model/peft.ts';
import { LoraTrainer, type StepResult } from './trainer.ts';
import type { Runtime, Tensor } from './runtime.ts';

/** A fresh adapter with `config.lora` (seeded by config.training.seed) and the trainer that fits it on `weights`. */
export function sftTrainer(runtime: Runtime, model: Qwen3Config, weights: ReadonlyMap<string, Tensor>, config: TrainConfig): Promise<LoraTrainer> {
  const adapter = newAdapter(model, {
    r: config.lora.r,
    alpha: config.lora.alpha,
    targets: config.lora.targets,
    useRslora: config.lora.rslora,
    dropout: config.lora.dropout,
    seed: config.training.seed,
  });
  return LoraTrainer.create(runtime, model, weights, adapter, {
    optimizer: config.optimizer,
    dropout: config.lora.dropout,
    seed: config.training.seed,
  });
}

export interface SftProgress extends StepResult {
  step: number; // 1-based
  totalSteps: number;
  epoch: number; // 0-based
  lr: number;
}

/** Micro-batches of one epoch, in a seeded order. */
function epochBatches(examples: readonly TokenizedExample[], config: TrainConfig, epoch: number): TrainBatch[] {
  const order = shuffled(examples.length, config.training.seed + epoch);
  const batches: TrainBatch[] = [];
  for (let i = 0; i < order.length; i += config.training.batchSize) {
    const rows = order.slice(i, i + config.training.batchSize).map((j) => examples[j]!);
    batches.push(makeBatch(rows, { maxLength: config.training.maxLength, lossOn: config.training.lossOn }));
  }
  return batches;
}

/**
 * Trains until the schedule's last step (or `maxSteps`, which also shortens the schedule so a
 * quick run still warms up and decays). Returns the last step's progress.
 */
export async function runSft(
  trainer: LoraTrainer,
  examples: readonly TokenizedExample[],
  config: TrainConfig,
  options: { maxSteps?: number; onStep?: (p: SftProgress) => void } = {},
): Promise<SftProgress> {
  if (examples.length === 0) throw new Error('runSft: no training examples');
  const total = Math.min(options.maxSteps ?? Infinity, totalSteps(config, examples.length));
  let last: SftProgress | null = null;
  for (let epoch = 0, step = 0; step < total; epoch++) {
    const batches = epochBatches(examples, config, epoch);
    for (let i = 0; i < batches.length && step < total; i += config.training.gradAccum) {
      const lr = learningRate(config.optimizer, step, total);
      const result = await trainer.step(batches.slice(i, i + config.training.gradAccum), lr);
      step += 1;
      last = { ...result, step, totalSteps: total, epoch, lr };
      options.onStep?.(last);
    }
  }
  return last!;
}

/** Token-weighted mean loss over `examples` (no update). */
export async function evaluateLoss(trainer: LoraTrainer, examples: readonly TokenizedExample[], config: TrainConfig): Promise<number> {
  let sum = 0;
  let tokens = 0;
  for (let i = 0; i < examples.length; i += config.training.batchSize) {
    const batch = makeBatch(examples.slice(i, i + config.training.batchSize), { maxLength: config.training.maxLength, lossOn: config.training.lossOn });
    const r = await trainer.evaluate(batch);
    sum += r.loss * r.tokens;
    tokens += r.tokens;
  }
  return sum / tokens;
}
