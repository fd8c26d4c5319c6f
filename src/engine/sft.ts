// Supervised fine-tuning as the reference run does it: shuffled epochs of micro-batches,
// `gradAccum` micro-batches per optimizer step, warmup + cosine learning rate. Rows that cannot be
// trained on are left out up front and listed; a step whose loss or gradient is not finite ends
// the run there, keeping the adapter of the step before; so does a stop asked for between
// micro-batches (the partial step is discarded). A trainer made from a checkpoint's state resumes
// at the step and data position its step count gives.
import { promptFormat } from '../model/prompt.ts';
import { shuffled } from '../random.ts';
import { scoredTokens, splitBatch, type TrainBatch } from './batches.ts';
import type { GraphProgress, SkippedRow, TrainRow } from './protocol.ts';
import type { Qwen3Tokenizer, TokenizedExample } from './tokenizer.ts';
import { learningRate, totalSteps, type TrainConfig } from './train-config.ts';
import type { Qwen3Config } from '../model/config.ts';
import { checkLoraRank, newAdapter, type LoraConfig } from '../model/peft.ts';
import { LoraTrainer, NonFiniteStep, StepCancelled, type StepResult, type TrainerOptions, type TrainerStart, type TrainerState } from './trainer.ts';
import type { Runtime } from './runtime.ts';

/**
 * `rows` tokenized in `config`'s prompt format (a row's intent as that format renders it), without
 * the rows whose prompt leaves no scored token within max_length (a batch of only such rows has
 * nothing to learn from and would stop the run); those are listed in `skipped`, in row order.
 */
export function sftExamples(rows: readonly TrainRow[], tokenizer: Qwen3Tokenizer, config: TrainConfig): { examples: TokenizedExample[]; skipped: SkippedRow[] } {
  const format = promptFormat(config.promptFormat, 'the training settings (prompt_format)');
  const options = { maxLength: config.training.maxLength, lossOn: config.training.lossOn };
  const examples: TokenizedExample[] = [];
  const skipped: SkippedRow[] = [];
  for (const row of rows) {
    const example = tokenizer.example(row.query, row.completion, format, row.intent);
    if (scoredTokens(example, options) > 0) examples.push(example);
    else skipped.push({ line: row.line ?? null, promptTokens: example.completionMask.indexOf(1) });
  }
  return { examples, skipped };
}

/** What the CLI writes after a skipped row's `FILE:LINE: `, as it does for a rejected row. */
export function skippedReason(row: SkippedRow, maxLength: number): string {
  return `skipped: the prompt is ${row.promptTokens} tokens, so max_length ${maxLength} leaves no completion token to train on`;
}

/** "lines 3, 9 and 14", at most `max` of them (a dataset may hold thousands such rows). */
export function skippedLines(rows: readonly SkippedRow[], max = 10): string {
  const lines = rows.slice(0, max).map((r) => (r.line === null ? '?' : String(r.line)));
  const more = rows.length - lines.length;
  if (more > 0) return `lines ${lines.join(', ')} and ${more} more`;
  return lines.length === 1 ? `line ${lines[0]}` : `lines ${lines.slice(0, -1).join(', ')} and ${lines.at(-1)}`;
}

/**
 * The trainer of a run on `weights` (a session's: trainer.ts sessionWeights): a fresh adapter with
 * `config.lora` (seeded by config.training.seed), or the state a checkpoint resumes.
 */
export function sftTrainer(
  runtime: Runtime,
  model: Qwen3Config,
  weights: Pick<TrainerOptions, 'weights' | 'layout' | 'transposed'>,
  config: TrainConfig,
  options: { onGraph?: (progress: GraphProgress) => void; resume?: { lora: LoraConfig; state: TrainerState } } = {},
): Promise<LoraTrainer> {
  checkLoraRank(config.lora, model, 'the training settings (lora.r)');
  const { resume } = options;
  const start: TrainerStart = resume
    ? { config: resume.lora, state: resume.state }
    : {
        adapter: newAdapter(model, {
          r: config.lora.r,
          alpha: config.lora.alpha,
          targets: config.lora.targets,
          useRslora: config.lora.rslora,
          dropout: config.lora.dropout,
          seed: config.training.seed,
        }),
      };
  return LoraTrainer.create({ runtime, model, ...weights, start, optimizer: config.optimizer, dropout: config.lora.dropout, seed: config.training.seed, recomputeLayers: config.training.recompute, onGraph: options.onGraph });
}

/** Where a run is in its data: the next micro-batch, as an epoch and an index into that epoch's seeded order. */
export interface DataPosition {
  epoch: number; // 0-based
  batch: number; // 0-based batch (of training.batch_size rows) of the epoch
}

export interface SftProgress extends StepResult {
  step: number; // 1-based
  totalSteps: number;
  epoch: number; // 0-based
  lr: number;
  /** Where the next step starts. */
  next: DataPosition;
}

/**
 * The batches of one epoch, in a seeded order, each as the micro-batches it runs in (more than one
 * when training.micro_batch_tokens splits it).
 */
function epochBatches(examples: readonly TokenizedExample[], config: TrainConfig, epoch: number): TrainBatch[][] {
  const order = shuffled(examples.length, config.training.seed + epoch);
  const batches: TrainBatch[][] = [];
  for (let i = 0; i < order.length; i += config.training.batchSize) {
    const rows = order.slice(i, i + config.training.batchSize).map((j) => examples[j]!);
    batches.push(splitBatch(rows, batchOptions(config), config.training.microBatchTokens));
  }
  return batches;
}

const batchOptions = (config: TrainConfig) => ({ maxLength: config.training.maxLength, lossOn: config.training.lossOn });

/**
 * Where step `step` (0-based) starts: each epoch is ⌈examples / batch size⌉ micro-batches in
 * windows of grad_accum (the last window of an epoch may be shorter).
 */
export function positionOfStep(step: number, examples: number, config: TrainConfig): DataPosition {
  const batches = Math.ceil(examples / config.training.batchSize);
  const perEpoch = Math.ceil(batches / config.training.gradAccum);
  return { epoch: Math.floor(step / perEpoch), batch: (step % perEpoch) * config.training.gradAccum };
}

/** A run ended at `step` (1-based) by a loss or gradient norm that was not finite. */
export interface SftHalt {
  step: number;
  totalSteps: number;
  /** Names the step and the values, and says which adapter the trainer kept. */
  message: string;
}

/**
 * A run ended by `stop` after `step` completed steps (the trainer holds the adapter of that step).
 * `discarded`: the step in flight had run that many of its micro-batches, whose gradient was thrown away.
 */
export interface SftCancel {
  step: number;
  totalSteps: number;
  discarded: { microBatches: number; of: number } | null;
}

export interface SftOptions {
  maxSteps?: number;
  /** Told after each step; a promise it returns is awaited (a checkpoint is written there). */
  onStep?: (p: SftProgress) => unknown;
  /** Told as each micro-batch (1-based) of step `step` starts. */
  onMicroBatch?: (step: number, totalSteps: number, index: number, of: number) => void;
  /** Asked before each step, graph build and micro-batch: true ends the run there (SftCancel). */
  stop?: () => boolean;
  /** A resumed run's saved position: it must be where the trainer's step count puts it in these examples. */
  position?: DataPosition;
}

/**
 * Trains from the trainer's step (0, or a resumed state's) until the schedule's last step (or
 * `maxSteps`, which also shortens the schedule so a quick run still warms up and decays), or until
 * a step's loss or gradient norm is not finite: then `halt` says so and the trainer keeps the
 * parameters of the step before. `stop` ends the run early the same way (`cancelled`), between
 * steps or between a step's micro-batches. The data order, learning rate and dropout masks of a
 * step depend only on its index, so a resumed run continues exactly where the saved one stopped.
 */
export async function runSft(
  trainer: LoraTrainer,
  examples: readonly TokenizedExample[],
  config: TrainConfig,
  options: SftOptions = {},
): Promise<{ last: SftProgress | null; halt: SftHalt | null; cancelled: SftCancel | null }> {
  if (examples.length === 0) throw new Error('runSft: no training examples');
  const total = Math.min(options.maxSteps ?? Infinity, totalSteps(config, examples.length));
  const { stop } = options;
  const from = positionOfStep(trainer.stepCount, examples.length, config);
  const saved = options.position;
  if (saved && (saved.epoch !== from.epoch || saved.batch !== from.batch)) {
    const { batchSize, gradAccum } = config.training;
    throw new Error(
      `runSft: the saved position (epoch ${saved.epoch}, micro-batch ${saved.batch}) is not where step ${trainer.stepCount} ends with ${examples.length} examples in batches of ${batchSize} × ${gradAccum} (epoch ${from.epoch}, micro-batch ${from.batch}): the data or the settings differ from the saved run's`,
    );
  }
  let last: SftProgress | null = null;
  for (let epoch = from.epoch, step = trainer.stepCount; step < total; epoch++) {
    const batches = epochBatches(examples, config, epoch);
    for (let i = epoch === from.epoch ? from.batch : 0; i < batches.length && step < total; i += config.training.gradAccum) {
      if (stop?.()) return { last, halt: null, cancelled: { step, totalSteps: total, discarded: null } };
      const lr = learningRate(config.optimizer, step, total);
      const current = step + 1;
      const onMicroBatch = options.onMicroBatch && ((index: number, of: number) => options.onMicroBatch!(current, total, index, of));
      let result: StepResult;
      try {
        result = await trainer.step(batches.slice(i, i + config.training.gradAccum).flat(), lr, { stop, onMicroBatch });
      } catch (error) {
        if (error instanceof StepCancelled) {
          const discarded = error.microBatches > 0 ? { microBatches: error.microBatches, of: error.of } : null;
          return { last, halt: null, cancelled: { step, totalSteps: total, discarded } };
        }
        if (!(error instanceof NonFiniteStep)) throw error;
        const kept = step === 0 ? 'the adapter as initialised (no step completed)' : `the adapter of step ${step}, the last good one`;
        return { last, halt: { step: step + 1, totalSteps: total, message: `step ${step + 1} of ${total}: ${error.message}, so training stopped there; kept ${kept}` }, cancelled: null };
      }
      step += 1;
      last = { ...result, step, totalSteps: total, epoch, lr, next: positionOfStep(step, examples.length, config) };
      await options.onStep?.(last);
    }
  }
  return { last, halt: null, cancelled: null };
}

/** evaluateLoss ended by its `stop` between batches: there is no loss to report. */
export class ValidationCancelled extends Error {
  constructor(readonly batches: number, readonly of: number) {
    super(`the validation pass was cancelled after ${batches} of ${of} batches`);
    this.name = 'ValidationCancelled';
  }
}

/**
 * Token-weighted mean loss over `examples` (no update). `stop` is asked before each batch
 * (true throws ValidationCancelled); `onBatch` is told as each (1-based) starts.
 */
export async function evaluateLoss(
  trainer: LoraTrainer,
  examples: readonly TokenizedExample[],
  config: TrainConfig,
  options: { stop?: () => boolean; onBatch?: (index: number, of: number) => void } = {},
): Promise<number> {
  let sum = 0;
  let tokens = 0;
  const { batchSize } = config.training;
  const of = Math.ceil(examples.length / batchSize);
  for (let i = 0; i < examples.length; i += batchSize) {
    if (options.stop?.()) throw new ValidationCancelled(i / batchSize, of);
    options.onBatch?.(i / batchSize + 1, of);
    for (const batch of splitBatch(examples.slice(i, i + batchSize), batchOptions(config), config.training.microBatchTokens)) {
      const r = await trainer.evaluate(batch);
      sum += r.loss * r.tokens;
      tokens += r.tokens;
    }
  }
  return sum / tokens;
}
