// One LoRA training run on a loaded model — the job that the engine worker (the page, WebGPU) and
// `qmd train` (onnxruntime-node) both run: rows → examples (rows whose prompt fills max_length are
// left out and listed), a trainer on the session's resident weights (fresh, or a checkpoint's
// state), the steps with progress within each and a stop between micro-batches, a pause between
// steps, checkpoints every N steps, on a pause and at the end, the validation loss every M steps
// and after the last, scored samples of the adapter so far every S steps, and the trained adapter.
import { trainMemoryEstimate, trainMemoryRefusal } from './train-memory.ts';
import type { Qwen3Config } from '../model/config.ts';
import { writePeftAdapter, type LoraAdapter } from '../model/peft.ts';
import { CHECKPOINT_VERSION, dataIdentity, resumeProblem, type TrainingCheckpoint } from './checkpoint.ts';
import { DEFAULT_SAMPLE_QUERIES, EngineError, type AdapterInfo, type TrainPhase, type TrainProgress, type TrainResult, type TrainRow, type TrainStep } from './protocol.ts';
import type { Runtime } from './runtime.ts';
import type { Qwen3Session } from './session.ts';
import { evaluateLoss, runSft, sftExamples, sftTrainer, skippedLines, ValidationCancelled, type SftProgress } from './sft.ts';
import type { Qwen3Tokenizer } from './tokenizer.ts';
import { sampleAdapter, SamplingCancelled, sampleRows } from './train-samples.ts';
import { totalSteps, trainConfigProblem, type TrainConfig } from './train-config.ts';
import { sessionWeights } from './trainer.ts';

/** The loaded model a run trains on (the worker's LoadedModel; the CLI's session). */
export interface TrainableModel {
  config: Qwen3Config;
  tokenizer: Qwen3Tokenizer;
  session: Qwen3Session;
}

export interface TrainJob {
  rows: { train: readonly TrainRow[]; validation: readonly TrainRow[] };
  config: TrainConfig;
  maxSteps: number | null;
  /** A run to continue: its settings and training rows must be these (maxSteps may differ: the schedule follows it). */
  resume?: TrainingCheckpoint;
  /** Device bytes the run may hold; an estimate over it is refused before anything is allocated (train-memory.ts). */
  memoryBudget?: number;
  /** Steps between checkpoints (hooks.onCheckpoint); the run's last step gets one too. */
  checkpointEvery?: number;
  /** Steps between validation losses (TrainStep.validationLoss) before the last step, which the final pass covers. */
  validateEvery?: number;
  /**
   * Steps between samples (TrainStep.samples): the first `sampleQueries` validation queries
   * expanded greedily by the adapter after that step and scored (train-samples.ts). Unset: none.
   */
  sampleEvery?: number;
  /** Validation queries each sample pass expands (DEFAULT_SAMPLE_QUERIES unless set). */
  sampleQueries?: number;
}

export interface TrainHooks {
  onStep?: (step: TrainStep) => void;
  onPhase?: (phase: TrainPhase) => void;
  /** Graph builds, micro-batches and validation batches as they start. */
  onProgress?: (progress: TrainProgress) => void;
  /** Told the rows left out (their prompt fills max_length) before any step runs. */
  onSkipped?: (skipped: TrainOutcome['skipped']) => void;
  /** Awaited with each checkpoint (the run waits for it to be stored). */
  onCheckpoint?: (checkpoint: TrainingCheckpoint) => Promise<void>;
  /**
   * Asked before every step, graph build, micro-batch and validation batch: true ends training
   * there, discarding a step cut short, skips the validation pass, and hands back the adapter of
   * the last completed step (none completed: the run fails `cancelled`).
   */
  stop?: () => boolean;
  /**
   * Asked after each completed step but the last: true ends training there, after that step's
   * checkpoint (hooks.onCheckpoint, whatever checkpointEvery says), without the validation pass;
   * the outcome is `paused` (and `stopped`).
   */
  pause?: () => boolean;
  /** Milliseconds; `performance.now` unless a test drives the clock. */
  now?: () => number;
}

/** A finished run: TrainResult with the adapter itself in place of its PEFT files. */
export interface TrainOutcome extends Omit<TrainResult, 'adapterConfig' | 'adapterWeights' | 'adapter'> {
  adapter: LoraAdapter;
}

/**
 * Trains `job.rows.train` (a new adapter with config.lora seeded by config.training.seed, or the
 * checkpoint's) on the session's weights. A step whose loss or gradient norm is not finite ends
 * training there, and the outcome (with `halt` saying so) holds the adapter of the step before;
 * so does `hooks.stop` (`stopped`, with the step it cut short in `discarded`).
 */
export async function runTrainJob(runtime: Runtime, model: TrainableModel, job: TrainJob, hooks: TrainHooks = {}): Promise<TrainOutcome> {
  const { config, maxSteps, resume, checkpointEvery, validateEvery, sampleEvery, sampleQueries = DEFAULT_SAMPLE_QUERIES } = job;
  if (job.rows.train.length === 0) throw new EngineError('internal', 'cannot train: the train part has no rows');
  for (const [what, n] of [['max steps', maxSteps], ['checkpoint every', checkpointEvery ?? null], ['validate every', validateEvery ?? null], ['sample every', sampleEvery ?? null], ['sample queries', sampleQueries]] as const) {
    if (n !== null && !(Number.isInteger(n) && n >= 1)) throw new EngineError('internal', `cannot train: ${what} must be an integer ≥ 1, got ${n}`);
  }
  const problem = trainConfigProblem(config);
  if (problem) throw new EngineError('internal', `cannot train: ${problem}`);
  const now = hooks.now ?? (() => performance.now());
  const train = sftExamples(job.rows.train, model.tokenizer, config);
  const validation = sftExamples(job.rows.validation, model.tokenizer, config);
  const { maxLength } = config.training;
  if (train.examples.length === 0) {
    throw new EngineError('internal', `cannot train: the prompt of every train row fills max length ${maxLength}, leaving no completion token (${skippedLines(train.skipped)}); raise the max length`);
  }
  const skipped = { train: train.skipped, validation: validation.skipped };
  hooks.onSkipped?.(skipped);
  const data = dataIdentity(train.examples);
  const total = Math.min(maxSteps ?? Infinity, totalSteps(config, train.examples.length));
  if (resume) {
    const mismatch = resumeProblem(resume, config, data);
    if (mismatch) throw new EngineError('internal', `cannot resume: ${mismatch}`);
    if (resume.state.step >= total) throw new EngineError('internal', `cannot resume: the checkpoint has completed step ${resume.state.step}, and this run ends at step ${total}`);
  }
  if (job.memoryBudget !== undefined) {
    const estimate = trainMemoryEstimate(model.config, model.session.layout, config, model.session.memory().weights);
    const tooBig = trainMemoryRefusal(estimate, job.memoryBudget, config);
    if (tooBig) throw new EngineError('too_large', `cannot train: ${tooBig}`);
  }
  hooks.onPhase?.('compile');
  const progress = hooks.onProgress ?? (() => {});
  const trainer = await sftTrainer(runtime, model.config, sessionWeights(model.session), config, {
    onGraph: (graph) => progress({ kind: 'graph', ...graph }),
    resume: resume && { lora: resume.lora, state: resume.state },
  });
  try {
    const started = now();
    // A resumed run's clock continues from its checkpoint's last step.
    const before = resume?.metrics.at(-1)?.seconds ?? 0;
    let last = started;
    const steps: TrainStep[] = [...(resume?.metrics ?? [])];
    let saved = resume?.state.step ?? 0;
    let pausing = false;
    const stop = () => pausing || (hooks.stop?.() ?? false);
    /** The validation loss, or null when a stop cut the pass short. */
    const validate = async (): Promise<number | null> => {
      hooks.onPhase?.('validation');
      try {
        return await evaluateLoss(trainer, validation.examples, config, { stop, onBatch: (index, of) => progress({ kind: 'validation', index, of }) });
      } catch (error) {
        if (error instanceof ValidationCancelled) return null;
        throw error;
      }
    };
    const sampled = sampleRows(job.rows.validation, sampleQueries);
    /**
     * The adapter after `step`, read back from the trainer and uploaded to the session's decoder
     * (the trainer keeps A [r, in] and B [out, r] of the trained targets only, where the decoder
     * reads them transposed, every target present), or null when a stop cut the pass short.
     */
    const sample = async (step: number) => {
      hooks.onPhase?.('samples');
      try {
        return await sampleAdapter(model.session, model.tokenizer, await trainer.adapter(), sampled, {
          format: config.promptFormat,
          stop,
          onQuery: (index, of) => progress({ kind: 'sample', step, index, of }),
        });
      } catch (error) {
        if (error instanceof SamplingCancelled) return null;
        throw error;
      }
    };
    const save = async (p: SftProgress) => {
      const state = await trainer.exportState();
      await hooks.onCheckpoint!({ version: CHECKPOINT_VERSION, config, maxSteps, totalSteps: total, lora: trainer.lora, position: p.next, data, metrics: [...steps], state });
      saved = p.step;
    };
    const outcome = await runSft(trainer, train.examples, config, {
      maxSteps: maxSteps ?? undefined,
      stop,
      position: resume?.position,
      onMicroBatch: (step, totalSteps, index, of) => progress({ kind: 'micro-batch', step, totalSteps, index, of }),
      onStep: async (p) => {
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
          seconds: before + (t - started) / 1000,
        };
        if (validateEvery && p.step % validateEvery === 0 && p.step < p.totalSteps && validation.examples.length > 0) {
          const loss = await validate();
          if (loss !== null) step.validationLoss = loss;
        }
        if (sampleEvery && p.step % sampleEvery === 0 && sampled.length > 0) {
          const samples = await sample(p.step);
          if (samples) step.samples = samples;
        }
        // The next step's tokens/s counts from here, not from before the validation pass and samples.
        last = now();
        steps.push(step);
        hooks.onStep?.(step);
        const pause = p.step < p.totalSteps && (hooks.pause?.() ?? false);
        if (hooks.onCheckpoint && ((checkpointEvery && p.step % checkpointEvery === 0) || pause)) await save(p);
        pausing ||= pause;
      },
    });
    const { cancelled } = outcome;
    if (hooks.onCheckpoint && (checkpointEvery || pausing) && outcome.last && saved < outcome.last.step) await save(outcome.last);
    if (cancelled && cancelled.step === 0) {
      const cut = cancelled.discarded ? ` after ${cancelled.discarded.microBatches} of ${cancelled.discarded.of} micro-batches` : '';
      throw new EngineError('cancelled', `training was cancelled during step 1 of ${cancelled.totalSteps}${cut}: no step completed, so nothing was trained`);
    }
    let validationLoss: number | null = null;
    let validationSkipped = cancelled !== null && validation.examples.length > 0;
    if (validation.examples.length > 0 && !cancelled) {
      validationLoss = await validate();
      validationSkipped = validationLoss === null;
    }
    hooks.onPhase?.('export');
    return {
      steps,
      stopped: cancelled !== null,
      paused: pausing && cancelled !== null,
      discarded: cancelled?.discarded ? { step: cancelled.step + 1, ...cancelled.discarded } : null,
      validationSkipped,
      halt: outcome.halt?.message ?? null,
      skipped,
      maxLength,
      validationLoss,
      validationRows: validation.examples.length,
      adapter: await trainer.adapter(),
      seconds: (now() - started) / 1000,
    };
  } finally {
    await trainer.release();
  }
}

/** What crosses to the page: the outcome with the adapter as PEFT files, and where the worker keeps it resident. */
export function trainResult(outcome: TrainOutcome, model: Qwen3Config, resident: AdapterInfo): TrainResult {
  const { adapter, ...rest } = outcome;
  const peft = writePeftAdapter(adapter, model);
  return { ...rest, adapterConfig: new TextEncoder().encode(peft.configJson), adapterWeights: peft.safetensors, adapter: resident };
}
