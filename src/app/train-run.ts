// A LoRA training run from the page: the rows of a stored dataset's train and validation parts
// (the split the Datasets page shows), and the run itself on a loaded model, which the engine
// worker calls with its WebGPU runtime and the session's resident weights — the CLI's flow
// (src/cli/train.ts) on the same trainer, with a stop after any step.
import type { LabDatabase } from '../data/db.ts';
import { QMD_1_7B_PROMPT, QMD_V4_PROMPT } from '../data/prompt.ts';
import { getDataset, scanRows } from '../data/store.ts';
import { splitDataset, type SplitOptions } from '../data/split.ts';
import type { Qwen3Config } from '../model/config.ts';
import { writePeftAdapter } from '../model/peft.ts';
import { EngineError, type TrainPhase, type TrainResult, type TrainRow, type TrainStep } from '../engine/protocol.ts';
import type { Runtime } from '../engine/runtime.ts';
import type { Qwen3Session } from '../engine/session.ts';
import { evaluateLoss, runSft, sftTrainer } from '../engine/sft.ts';
import type { Qwen3Tokenizer } from '../engine/tokenizer.ts';
import type { TrainConfig } from '../engine/train-config.ts';

/** The train and validation rows of stored dataset `id`, each part in row order. */
export async function trainingRows(db: LabDatabase, id: string, split: SplitOptions): Promise<{ train: TrainRow[]; validation: TrainRow[] }> {
  const meta = await getDataset(db, id);
  if (!meta) throw new Error(`training rows: no stored dataset ${id}`);
  const validation = new Set(splitDataset(meta.rows, split).validation);
  const parts = { train: [] as TrainRow[], validation: [] as TrainRow[] };
  for await (const row of scanRows(db, id)) {
    parts[validation.has(row.index) ? 'validation' : 'train'].push({ query: row.query, completion: row.completion });
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
  /** Asked after every step: true ends training there (the adapter so far is validated and exported). */
  stop?: () => boolean;
  /** Milliseconds; `performance.now` unless a test drives the clock. */
  now?: () => number;
}

/** Thrown from runSft's step callback to end the schedule early; never leaves this module. */
class StopAfterStep extends Error {}

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

/** Trains a new adapter (config.lora, seeded by config.training.seed) on `rows.train`; the CLI's run, step by step. */
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
  const now = hooks.now ?? (() => performance.now());
  const format = config.promptFormat === QMD_1_7B_PROMPT.id ? QMD_1_7B_PROMPT : QMD_V4_PROMPT;
  const example = (r: TrainRow) => model.tokenizer.example(r.query, r.completion, format);
  hooks.onPhase?.('compile');
  const trainer = await sftTrainer(runtime, model.config, model.session.weights, config);
  try {
    const started = now();
    let last = started;
    const steps: TrainStep[] = [];
    let stopped = false;
    try {
      await runSft(trainer, rows.train.map(example), config, {
        maxSteps: maxSteps ?? undefined,
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
          if (p.step < p.totalSteps && hooks.stop?.()) throw new StopAfterStep();
        },
      });
    } catch (error) {
      if (!(error instanceof StopAfterStep)) throw error;
      stopped = true;
    }
    let validationLoss: number | null = null;
    if (rows.validation.length > 0) {
      hooks.onPhase?.('validation');
      validationLoss = await evaluateLoss(trainer, rows.validation.map(example), config);
    }
    hooks.onPhase?.('export');
    const peft = writePeftAdapter(await trainer.adapter(), model.config);
    return {
      steps,
      stopped,
      validationLoss,
      validationRows: rows.validation.length,
      adapterConfig: new TextEncoder().encode(peft.configJson),
      adapterWeights: peft.safetensors,
      seconds: (now() - started) / 1000,
    };
  } finally {
    await trainer.release();
  }
}
