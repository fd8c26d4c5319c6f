// The messages between the UI (client.ts) and workers/engine.worker.ts — one typed module both
// sides import. Every request carries an id; the worker answers it with exactly one `result` or
// `error`, and may send `event`s for it (progress, tokens) before that. Requests are a union
// that later features (eval runs, training) extend with new `type`s.
import type { GrpoMemoryEstimate, TrainMemoryEstimate } from './train-memory.ts';
import type { CacheKey } from '../model/hub/cache.ts';
import type { LoadDtype } from '../model/hub/estimate.ts';
import type { HeadProduct } from '../model/qwen3/forward.ts';
import type { TrainingCheckpoint } from './checkpoint.ts';
import type { GrpoConfig } from './grpo-config.ts';
import type { GrpoCheckpoint, GrpoGuardSettings, GrpoOutcome, GrpoPhase, GrpoProgress, GrpoStep } from './grpo-protocol.ts';
import type { GrpoPrompt } from './grpo-rollout.ts';
import type { Placements } from './placement.ts';
import type { SessionMemory } from './session.ts';
import type { TrainConfig } from './train-config.ts';

/**
 * Where model or adapter files come from: a hub (or a test server with the same layout) or files
 * (picked by the user, or made from an adapter stored in IndexedDB); `name` names such files,
 * else the picked folder does.
 */
export type ModelSource =
  | { kind: 'hub'; repo: string; revision?: string; base?: string }
  | { kind: 'files'; files: File[]; name?: string };

export interface SamplingRequest {
  greedy: boolean;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  maxNewTokens: number;
}

/** The Python eval's settings: temperature 0.7 over the whole vocabulary, 200 new tokens. */
export const defaultSamplingRequest: Readonly<SamplingRequest> = { greedy: false, temperature: 0.7, topK: 0, topP: 1, seed: 0, maxNewTokens: 200 };

export type Request =
  /**
   * weights: the layout (default f16, which loads f32 where the GPU lacks shader-f16): f32 keeps the
   * checkpoint's numbers exactly; q4 holds every matrix as 4-bit blocks (~1/6 of f32), inference only;
   * q4f16 the same codes with float16 scales, activations and KV cache (q4 without shader-f16).
   * promptFormat: the model's prompt format id (src/model/prompt.ts; the catalog's, or the user's
   * choice); every generate on this model uses it unless the request names another. Default qmd-v4.
   */
  | { type: 'load-model'; source: ModelSource; weights?: LoadDtype; promptFormat?: string }
  | { type: 'load-adapter'; id: string; source: ModelSource }
  | { type: 'unload-adapter'; id: string }
  | { type: 'unload' }
  | { type: 'generate'; query: string; adapter: string | null; sampling: SamplingRequest; promptFormat?: string }
  | { type: 'cancel'; target: number }
  | { type: 'memory' }
  | { type: 'placements' }
  /**
   * LoRA SFT of a new adapter on the loaded model's resident weights. `cancel` stops between
   * micro-batches (or graph builds), discarding the step in flight, and skips the validation pass;
   * the run then exports the adapter of the last completed step (TrainResult.stopped), or fails
   * `cancelled` when no step completed. The trained adapter stays resident under `adapterId`
   * (unload-adapter releases it), so using it needs no upload. `resume` continues a checkpoint (its
   * settings and rows must be these); `checkpointEvery` sends a `train-checkpoint` event every N
   * steps and at the end; `validateEvery` computes the validation loss every N steps;
   * `sampleEvery` expands the first `sampleQueries` validation queries every N steps (TrainStep.samples).
   */
  | {
      type: 'train';
      train: TrainRow[];
      validation: TrainRow[];
      config: TrainConfig;
      maxSteps: number | null;
      adapterId: string;
      resume?: TrainingCheckpoint;
      checkpointEvery?: number;
      validateEvery?: number;
      sampleEvery?: number;
      sampleQueries?: number;
    }
  /**
   * GRPO of a new adapter (grpo-job.ts) on the loaded model, sampling from `prompts` (their query
   * and intent), with the SFT adapter `sftAdapter` merged into the weights on the device first
   * (null: the base alone). The merge needs the adapter's matrices on the host, so its files come
   * with the request; it changes the session's weights for good, so the worker merges one adapter
   * once (`id` names it: a later run with the same id trains on the weights as they are, another
   * is refused until the model is loaded again). `cancel`, `pause`, `resume` and `checkpointEvery`
   * as for `train` (grpo-* events); the drift guard's halt rolls back to the last good checkpoint
   * (GrpoOutcome.halt). The trained adapter stays resident under `adapterId`.
   */
  | {
      type: 'grpo';
      prompts: GrpoPrompt[];
      config: GrpoConfig;
      guard: GrpoGuardSettings;
      maxSteps: number | null;
      adapterId: string;
      sftAdapter: { id: string; source: ModelSource } | null;
      resume?: GrpoCheckpoint;
      checkpointEvery?: number;
    }
  /** What a run with `config` would hold on the GPU with the loaded model, and whether it fits (train-memory.ts). */
  | { type: 'train-memory'; config: TrainConfig }
  /** The same for a GRPO run: its update, sampling and reference pass (train-memory.ts grpoMemoryEstimate). */
  | { type: 'grpo-memory'; config: GrpoConfig }
  /** Ends the train or grpo request `target` after the step in flight completes, with that step's checkpoint (TrainResult.paused). */
  | { type: 'pause'; target: number }
  /** Test mode only (the worker named ENGINE_TEST_NAME): fail the way a real crash or a lost GPU would. */
  | { type: 'debug'; action: 'crash' | 'lose-device' };

/** The worker's name in test mode (pages opened with ?hub=); only then does it accept `debug` requests. */
export const ENGINE_TEST_NAME = 'qmd-engine-test';

export type RequestType = Request['type'];

/** Where a load read the weights: the checkpoint, or the 4-bit copy an earlier q4 load kept in this browser (q4-copy.ts). */
export type WeightsFrom = 'checkpoint' | 'q4-copy';

export interface ModelInfo {
  name: string;
  layers: number;
  hidden: number;
  vocab: number;
  parameters: number;
  /** Weight bytes held on the GPU. */
  bytes: number;
  seconds: number;
  /** What the load decided on the user's behalf (e.g. an untied LM head). */
  warnings: string[];
  weightsFrom: WeightsFrom;
  /** The prompt format id generation asks this model in. */
  promptFormat: string;
  /** How the decoders multiply by the LM head: by rows on a fallback adapter (forward.ts HeadProduct). */
  head: HeadProduct;
}

export interface AdapterInfo {
  id: string;
  name: string;
  rank: number;
  alpha: number;
  targets: string[];
}

export interface GenerationResult {
  ids: number[];
  /** Completion text, a leading <think>…</think> removed. */
  text: string;
  finish: 'stop' | 'length';
  tokensPerSecond: number;
  promptTokens: number;
}

export interface MemoryReport {
  /** Buffers the runtime made (weights, adapters) and their bytes. */
  gpuBuffers: number;
  gpuBytes: number;
  /** Every GPU buffer alive on ORT's device (ORT's own pool included), counted at createBuffer/destroy. */
  liveBuffers: number;
  liveBufferBytes: number;
  /** ORT tensors on the device not yet disposed (uploads and run outputs the engine kept). */
  deviceTensors: number;
  /** The loaded model's device memory by kind (KV cache included), null without a model. */
  session: SessionMemory | null;
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number } | null;
  adapter: string | null;
}

/** What each request resolves to. */
export interface Results {
  'load-model': ModelInfo;
  'load-adapter': AdapterInfo;
  'unload-adapter': null;
  unload: null;
  generate: GenerationResult;
  cancel: null;
  pause: null;
  memory: MemoryReport;
  placements: Placements;
  train: TrainResult;
  grpo: GrpoResult;
  'train-memory': TrainMemoryReport;
  'grpo-memory': TrainMemoryReport<GrpoMemoryEstimate>;
  debug: null;
}

export interface TrainMemoryReport<E extends TrainMemoryEstimate = TrainMemoryEstimate> {
  estimate: E;
  /** What the worker lets a run hold: BUDGET_BUFFERS × maxBufferSize, as for loading (WebGPU tells no memory size). */
  budgetBytes: number;
  /** Why the run would not fit, naming the settings to change; null when it fits. */
  refusal: string | null;
}

export interface TrainRow {
  query: string;
  completion: string;
  /** QMD's per-row intent (structured rows): the prompt format adds it to the user turn. */
  intent?: string;
  /** 1-based line in the dataset file, for what is said about the row. */
  line?: number;
}

/** A row left out of training: its prompt alone fills max_length, so no token of it would be scored (sft.ts sftExamples). */
export interface SkippedRow {
  /** 1-based line in the dataset file; null when the row came without one. */
  line: number | null;
  promptTokens: number;
}

/** One optimizer step, as the CLI prints it. */
export interface TrainStep {
  step: number; // 1-based
  of: number;
  epoch: number; // 0-based
  /** Mean cross-entropy over the step's scored (completion) tokens. */
  loss: number;
  lr: number;
  /** Of the accumulated gradient, before clipping. */
  gradNorm: number;
  /** Scored tokens in the step. */
  tokens: number;
  /** Scored tokens per second of this step. */
  tokensPerSecond: number;
  /** Since the run started. */
  seconds: number;
  /** Token-weighted mean loss over the validation rows after this step, where the run computed one (train-job validateEvery). */
  validationLoss?: number;
  /** Greedy expansions of the first validation queries by the adapter after this step, scored, where the run sampled (train-job sampleEvery). */
  samples?: StepSamples;
}

/** A validation query, the trained-so-far adapter's expansion of it (model output: untrusted text) and its scores. */
export interface TrainSample {
  query: string;
  expansion: string;
  /** The reward profile's score, 0–1; null when the scorers refused the pair. */
  reward: number | null;
  /** The eval profile's percentage, 0–100; null when refused. */
  eval: number | null;
  /** Why the scorers refused the pair (src/scoring/limits.ts). */
  refused?: string;
}

/** Queries a sample pass expands unless told otherwise: a few, since each costs up to 128 decode steps (train-samples.ts). */
export const DEFAULT_SAMPLE_QUERIES = 4;

/** One step's samples and each profile's mean over those scored (null when none was). */
export interface StepSamples {
  reward: number | null;
  eval: number | null;
  items: TrainSample[];
}

export interface TrainResult {
  steps: TrainStep[];
  /** Cancelled: training ended before the schedule's last step; the adapter is that of the last completed step. */
  stopped: boolean;
  /** Ended by a pause after a completed step (stopped too): that step's checkpoint was sent. */
  paused: boolean;
  /** The step a cancel cut short between its micro-batches: it was discarded (no update made). */
  discarded: { step: number; microBatches: number; of: number } | null;
  /** A cancel skipped the validation pass or cut it short: validationLoss is null. */
  validationSkipped: boolean;
  /** Set when a step's loss or gradient norm was not finite: it names the step; the adapter is the last good step's. */
  halt: string | null;
  /** Rows of each part left out because their prompt alone fills max_length. */
  skipped: { train: SkippedRow[]; validation: SkippedRow[] };
  maxLength: number;
  /** Token-weighted mean loss over the validation rows after the last step; null without them. */
  validationLoss: number | null;
  validationRows: number;
  /** The PEFT files of the trained adapter. */
  adapterConfig: Uint8Array<ArrayBuffer>;
  adapterWeights: Uint8Array<ArrayBuffer>;
  /** The trained adapter as the worker keeps it resident (the request's adapterId). */
  adapter: AdapterInfo;
  seconds: number;
}

/** A GRPO run as the page gets it: the outcome, the trained (or rolled-back) adapter's PEFT files, and the adapter as the worker keeps it resident. */
export interface GrpoResult extends GrpoOutcome {
  adapterConfig: Uint8Array<ArrayBuffer>;
  adapterWeights: Uint8Array<ArrayBuffer>;
  adapter: AdapterInfo;
}

export type TrainPhase = 'compile' | 'validation' | 'samples' | 'export';

/** One graph the trainer builds (trainer.ts): its ONNX bytes in JS, then onnxruntime's session. */
export interface GraphProgress {
  /** What it computes, e.g. "train step for batch 2 × length 64 (64 loss positions)". */
  graph: string;
  /** 1-based among the graphs built in one go (step 1 builds most of them). */
  index: number;
  of: number;
  stage: 'building' | 'session' | 'ready';
  /** Set from 'session' on. */
  buildSeconds?: number;
  /** Set on 'ready'. */
  sessionSeconds?: number;
}

/** Within a phase: a graph being built, the micro-batch of the step in flight, the validation batch, the query being sampled. */
export type TrainProgress =
  | ({ kind: 'graph' } & GraphProgress)
  | { kind: 'micro-batch'; step: number; totalSteps: number; index: number; of: number }
  | { kind: 'validation'; index: number; of: number }
  | { kind: 'sample'; step: number; index: number; of: number };

/** What a model will take on this GPU, sent before its weights download (browser-model.ts). */
export interface LoadBudget {
  /** Weights at the load dtype. */
  weightBytes: number;
  /** K and V of every layer for 1,024 positions. */
  kvCacheBytesPer1kTokens: number;
  /** The most weights + 1k-token KV cache this device is trusted with (see browser-model.ts). */
  budgetBytes: number;
  dtype: LoadDtype;
  vocabChunks: number;
  largestTensor: { name: string; shape: number[]; bytes: number };
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number };
}

export type ProgressPhase = 'download' | 'weights' | 'compile' | 'adapter';

export type EngineEvent =
  | { type: 'progress'; phase: ProgressPhase; file?: string; loaded: number; total: number | null; rate?: number; etaSeconds?: number | null }
  | { type: 'token'; id: number; text: string; tokensPerSecond: number }
  | { type: 'estimate'; budget: LoadBudget }
  /** gpuBytes: every GPU buffer alive on ORT's device when the step ended (MemoryReport.liveBufferBytes). */
  | { type: 'train-step'; step: TrainStep; gpuBytes?: number }
  /** The run's state after a step; its Float32Arrays are transferred, not copied. */
  | { type: 'train-checkpoint'; checkpoint: TrainingCheckpoint }
  | { type: 'train-phase'; phase: TrainPhase }
  | { type: 'train-progress'; progress: TrainProgress }
  | { type: 'grpo-step'; step: GrpoStep; gpuBytes?: number }
  /** As train-checkpoint: its Float32Arrays are transferred. */
  | { type: 'grpo-checkpoint'; checkpoint: GrpoCheckpoint }
  | { type: 'grpo-phase'; phase: GrpoPhase }
  | { type: 'grpo-progress'; progress: GrpoProgress };

/**
 * `too_large`: refused before the weights download (a tensor over the binding limit that cannot be
 * split, or a total over the device budget); `crashed`: the worker died and must be restarted;
 * `corrupt_file`: a file kept in the download cache does not parse (EngineErrorData.damaged).
 */
export type ErrorCode =
  | 'oom'
  | 'too_large'
  | 'device_lost'
  | 'crashed'
  | 'unsupported_adapter'
  | 'download_failed'
  | 'corrupt_file'
  | 'bad_model'
  | 'cancelled'
  | 'internal';

export interface EngineErrorData {
  code: ErrorCode;
  /** A sentence a user can act on. */
  message: string;
  /** Files in the download cache that caused it (corrupt_file): deleting them and loading again fetches them afresh. */
  damaged?: CacheKey[];
}

export type ToWorker = { id: number; request: Request };

export type FromWorker =
  | { id: number; kind: 'result'; result: unknown }
  | { id: number; kind: 'error'; error: EngineErrorData }
  | { id: number; kind: 'event'; event: EngineEvent }
  /** Not tied to a request: the GPU device was lost; every loaded model is gone. */
  | { id: null; kind: 'device-lost'; error: EngineErrorData };

export class EngineError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly damaged: CacheKey[] = [],
  ) {
    super(message);
    this.name = 'EngineError';
  }

  /** What crosses to the UI. */
  data(): EngineErrorData {
    return { code: this.code, message: this.message, ...(this.damaged.length ? { damaged: this.damaged } : {}) };
  }
}
