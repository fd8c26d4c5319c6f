// A LoRA training run from the page: the rows of a stored dataset's train and validation parts
// (the split the Datasets page shows), and the run itself on a loaded model, which the engine
// worker calls with its WebGPU runtime and the session's resident weights — the CLI's flow
// (src/cli/train.ts) on the same trainer, with progress within each step and a stop between
// micro-batches.
import type { LabDatabase } from '../data/db.ts';
import { getDataset, scanRows } from '../data/store.ts';
import { splitDataset, type SplitOptions } from '../data/split.ts';
import type { Qwen3Config } from '../model/config.ts';
import { writePeftAdapter } from '../model/peft.ts';
import { EngineError, type TrainPhase, type TrainProgress, type TrainResult, type TrainRow, type TrainStep } from '../engine/protocol.ts';
import type { Runtime } from '../engine/runtime.ts';
import type { Qwen3Session } from '../engine/session.ts';
import { evaluateLoss, runSft, sftExamples, sftTrainer, skippedLines, ValidationCancelled } from '../engine/sft.ts';
import type { Qwen3Tokenizer } from '../engine/tokenizer.ts';
import { trainConfigProblem, type TrainConfig } from '../engine/train-config.ts';

/** The train and validation rows of stored dataset `id` (its own validation part unless `split` is given), each part in row order. */
export async function trainingRows(db: LabDatabase, id: string, split?: SplitOptions): Promise<{ train: TrainRow[]; validation: TrainRow[] }> {
  const meta = await getDataset(db, id);
  if (!meta) throw new Error(`training rows: no stored dataset ${id}`);
  const validation = new Set(splitDataset(meta.rows, split ?? meta.validation).validation);
  const parts = { train: [] as TrainRow[], validation: [] as TrainRow[] };
  for await (const row of scanRows(db, id)) {
    parts[validation.has(row.index) ? 'validation' : 'train'].push({ query: row.query, completion: row.completion, line: row.line });
  }
  return parts;
}

/** The loaded model a run trains on (the worker's LoadedModel). */
export interface TrainableModel {
  config: Qwen3Config;
  tokenizer: Qwen3Tokenizer;
  session: Qwen3Session;
}

export interface TrainHooks {
  onStep?: (step: TrainStep) => void;
  onPhase?: (phase: TrainPhase) => void;
  /** Graph builds, micro-batches and validation batches as they start. */
  onProgress?: (progress: TrainProgress) => void;
  /**
   * Asked before every step, graph build, micro-batch and validation batch: true ends training
   * there, discarding a step cut short, skips the validation pass, and exports the adapter of the
   * last completed step (none completed: the run fails `cancelled`).
   */
  stop?: () => boolean;
  /** Milliseconds; `performance.now` unless a test drives the clock. */
  now?: () => number;
}

/**
 * The train-step graph reads float32 weights with the vocabulary in one tensor (train-step.ts):
 * a session uploaded in float16 or split under the binding limit cannot be trained.
 */
export function trainingRefusal(session: Qwen3Session): string | null {
  const { dtype, chunks } = session.layout;
  if (dtype !== 'float32') return `the model's weights are on the GPU in ${dtype}; LoRA training needs float32 weights: reload the model with "float32 weights (to train)" ticked in the Playground's model panel`;
  if (chunks.length !== 1) return `the model's vocabulary is split into ${chunks.length} chunks to fit this GPU's binding limit; LoRA training needs it in one tensor (train with the CLI)`;
  return null;
}

/**
 * Trains a new adapter (config.lora, seeded by config.training.seed) on `rows.train`; the CLI's run,
 * step by step. Rows whose prompt fills max_length are left out and listed in the result; a step
 * whose loss or gradient norm is not finite ends training there, and the result (with `halt`
 * saying so) holds the adapter of the step before; so does `hooks.stop` (`stopped`, with the step
 * it cut short in `discarded`).
 */
export async function trainOnModel(
  runtime: Runtime,
  model: TrainableModel,
  rows: { train: readonly TrainRow[]; validation: readonly TrainRow[] },
  config: TrainConfig,
  maxSteps: number | null,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  const refusal = trainingRefusal(model.session);
  if (refusal) throw new EngineError('bad_model', `cannot train: ${refusal}`);
  if (rows.train.length === 0) throw new EngineError('internal', 'cannot train: the train part has no rows');
  if (maxSteps !== null && !(Number.isInteger(maxSteps) && maxSteps >= 1)) throw new EngineError('internal', `cannot train: max steps must be an integer ≥ 1, got ${maxSteps}`);
  const problem = trainConfigProblem(config);
  if (problem) throw new EngineError('internal', `cannot train: ${problem}`);
  const now = hooks.now ?? (() => performance.now());
  const train = sftExamples(rows.train, model.tokenizer, config);
  const validation = sftExamples(rows.validation, model.tokenizer, config);
  const { maxLength } = config.training;
  if (train.examples.length === 0) {
    throw new EngineError('internal', `cannot train: the prompt of every train row fills max length ${maxLength}, leaving no completion token (${skippedLines(train.skipped)}); raise the max length`);
  }
  hooks.onPhase?.('compile');
  const progress = hooks.onProgress ?? (() => {});
  const trainer = await sftTrainer(runtime, model.config, model.session.weights, config, (graph) => progress({ kind: 'graph', ...graph }));
  try {
    const started = now();
    let last = started;
    const steps: TrainStep[] = [];
    const outcome = await runSft(trainer, train.examples, config, {
      maxSteps: maxSteps ?? undefined,
      stop: hooks.stop,
      onMicroBatch: (step, totalSteps, index, of) => progress({ kind: 'micro-batch', step, totalSteps, index, of }),
      onStep: (p) => {
        const t = now();
        const step: TrainStep = {
          step: p.step,
          of: p.totalSteps,
          epoch: p.epoch,
          loss: p.loss,
          lr: p.lr,
          gradNorm: p.gradNorm,
          tokens: p.tokens,
          tokensPerSecond: p.tokens / Math.max(1e-3, (t - last) / 1000),
          seconds: (t - started) / 1000,
        };
        last = t;
        steps.push(step);
        hooks.onStep?.(step);
      },
    });
    const { cancelled } = outcome;
    if (cancelled && cancelled.step === 0) {
      const cut = cancelled.discarded ? ` after ${cancelled.discarded.microBatches} of ${cancelled.discarded.of} micro-batches` : '';
      throw new EngineError('cancelled', `training was cancelled during step 1 of ${cancelled.totalSteps}${cut}: no step completed, so nothing was trained`);
    }
    let validationLoss: number | null = null;
    let validationSkipped = cancelled !== null && validation.examples.length > 0;
    if (validation.examples.length > 0 && !cancelled) {
      hooks.onPhase?.('validation');
      try {
        validationLoss = await evaluateLoss(trainer, validation.examples, config, {
          stop: hooks.stop,
          onBatch: (index, of) => progress({ kind: 'validation', index, of }),
        });
      } catch (error) {
        if (!(error instanceof ValidationCancelled)) throw error;
        validationSkipped = true;
      }
    }
    hooks.onPhase?.('export');
    const peft = writePeftAdapter(await trainer.adapter(), model.config);
    return {
      steps,
      stopped: cancelled !== null,
      discarded: cancelled?.discarded ? { step: cancelled.step + 1, ...cancelled.discarded } : null,
      validationSkipped,
      halt: outcome.halt?.message ?? null,
      skipped: { train: train.skipped, validation: validation.skipped },
      maxLength,
      validationLoss,
      validationRows: validation.examples.length,
      adapterConfig: new TextEncoder().encode(peft.configJson),
      adapterWeights: peft.safetensors,
      seconds: (now() - started) / 1000,
    };
  } finally {
    await trainer.release();
  }
}
