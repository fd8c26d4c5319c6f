// A training run's checkpoint: what a resumed run needs to continue bit for bit — the trainer's
// state (LoRA matrices, AdamW moments, step count), where the data order stands, the settings and
// schedule, what the run trained on, and its metrics so far. In memory it is one plain object of
// JSON values and Float32Arrays (structured-clonable: IndexedDB can store it as is); on disk, two
// files: the tensors as safetensors and the rest as JSON. Dropout and the data order are keyed by
// (seed, step, micro-batch) and (seed, epoch), so no generator state is kept.
import { adapterConfigJson, parseAdapterConfig, type LoraConfig } from '../model/peft.ts';
import type { TensorReader } from '../model/safetensors.ts';
import { writeSafetensors } from '../model/safetensors.ts';
import { hashInts } from '../random.ts';
import type { TrainStep } from './protocol.ts';
import type { DataPosition } from './sft.ts';
import type { TokenizedExample } from './tokenizer.ts';
import type { TrainConfig } from './train-config.ts';
import type { TrainerState } from './trainer.ts';

export const CHECKPOINT_VERSION = 1;
export const CHECKPOINT_JSON = 'checkpoint.json';
export const CHECKPOINT_TENSORS = 'checkpoint.safetensors';

/** What a run trains on, to refuse resuming it on other rows: their count and a hash of their tokens. */
export interface DataIdentity {
  examples: number;
  fingerprint: string;
}

export interface TrainingCheckpoint {
  version: typeof CHECKPOINT_VERSION;
  config: TrainConfig;
  /** The run's step limit (null: the whole schedule); with the data it fixes totalSteps. */
  maxSteps: number | null;
  totalSteps: number;
  lora: LoraConfig;
  /** Where the next step starts; state.step steps are done. */
  position: DataPosition;
  data: DataIdentity;
  /** One record per completed step, in order. */
  metrics: TrainStep[];
  state: TrainerState;
}

/** Two 32-bit hashes over every example's length, completion start and token ids, as 16 hex digits. */
export function dataIdentity(examples: readonly TokenizedExample[]): DataIdentity {
  let a = hashInts(examples.length, 1);
  let b = hashInts(examples.length, 2);
  for (const e of examples) {
    for (const v of [e.ids.length, e.completionMask.indexOf(1), ...e.ids]) {
      a = hashInts(a, v);
      b = hashInts(b, v, 7);
    }
  }
  const hex = (h: number) => (h >>> 0).toString(16).padStart(8, '0');
  return { examples: examples.length, fingerprint: hex(a) + hex(b) };
}

/** The first path at which two JSON-like values differ, with both values, or null when equal. */
function firstDifference(a: unknown, b: unknown, path: string): string | null {
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const found = firstDifference((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], path ? `${path}.${key}` : key);
      if (found) return found;
    }
    return null;
  }
  return Object.is(a, b) ? null : `${path}: the checkpoint's is ${JSON.stringify(a)}, this run's ${JSON.stringify(b)}`;
}

/**
 * Why `checkpoint` (a training or GRPO run's) cannot be resumed with these settings and training
 * examples (a sentence), or null when it can. maxSteps may differ: the schedule is then recomputed (the caller says so).
 */
export function resumeProblem<C>(checkpoint: { config: C; data: DataIdentity }, config: C, data: DataIdentity): string | null {
  const changed = firstDifference(checkpoint.config, config, '');
  if (changed) return `the settings differ from the checkpoint's (${changed}); resume with the settings it was saved with`;
  if (checkpoint.data.examples !== data.examples || checkpoint.data.fingerprint !== data.fingerprint) {
    return `the training rows differ from the checkpoint's: it trained on ${checkpoint.data.examples} examples (fingerprint ${checkpoint.data.fingerprint}), these are ${data.examples} (${data.fingerprint}); resume with the same data file and split`;
  }
  return null;
}

/**
 * The two files of a checkpoint — a training run's, or any record with a trainer state and its
 * adapter config (a GRPO run's, grpo-checkpoint.ts): CHECKPOINT_JSON's text (the other fields,
 * the step and the adapter config) and CHECKPOINT_TENSORS' bytes (the step in both, to catch a torn pair).
 */
export function checkpointFiles<C extends { state: TrainerState; lora: LoraConfig }>(c: C): { json: string; tensors: Uint8Array<ArrayBuffer> } {
  const { state, lora, ...rest } = c;
  const json = JSON.stringify({ ...rest, step: state.step, adapter_config: adapterConfigJson(lora) }, null, 2) + '\n';
  const tensors = Object.entries(state.tensors).map(([name, data]) => ({ name, dtype: 'F32' as const, shape: [data.length], data }));
  return { json, tensors: writeSafetensors(tensors, { format: 'qmd-lab-checkpoint', step: String(state.step) }) };
}

export type CheckpointTensors = TensorReader & { metadata: Record<string, string> | null };

/** What every checkpoint's two files hold, checked: the JSON's fields (the rest for the caller to check, with `fail` and `count`), the adapter config and the trainer state. */
export interface CheckpointParts {
  fields: Record<string, unknown>;
  lora: LoraConfig;
  state: TrainerState;
  /** Throws "FILE: field: expected …, got …". */
  fail: (field: string, expected: string, value?: unknown) => never;
  /** `v` when it is a safe integer ≥ min, else fail(field). */
  count: (v: unknown, field: string, min?: number) => number;
}

export async function readCheckpointParts(json: string, tensors: CheckpointTensors, files = { json: CHECKPOINT_JSON, tensors: CHECKPOINT_TENSORS }): Promise<CheckpointParts> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new Error(`${files.json}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${files.json}: expected a JSON object`);
  const o = parsed as Record<string, unknown>;
  const fail = (field: string, expected: string, value: unknown = o[field]): never => {
    throw new Error(`${files.json}: ${field}: expected ${expected}, got ${String(JSON.stringify(value ?? null)).slice(0, 80)}`);
  };
  const count = (v: unknown, field: string, min = 0) => (Number.isSafeInteger(v) && (v as number) >= min ? (v as number) : fail(field, `an integer ≥ ${min}`, v));
  if (o.version !== CHECKPOINT_VERSION) fail('version', String(CHECKPOINT_VERSION));
  const step = count(o.step, 'step');
  const lora = parseAdapterConfig(o.adapter_config, `${files.json}: adapter_config`);
  const saved = tensors.metadata?.step;
  if (saved !== String(step)) {
    throw new Error(`${files.tensors} holds step ${saved ?? '(none)'} but ${files.json} step ${step}: the checkpoint was cut off while being written; use an earlier one`);
  }
  const state: TrainerState = { step, tensors: {} };
  for (const name of tensors.names()) state.tensors[name] = await tensors.read(name);
  return { fields: o, lora, state, fail, count };
}

/**
 * A checkpoint from its two files, each field checked (errors name the file and field); the
 * tensors are checked against the model when a trainer is made from them (trainer.ts).
 */
export async function readCheckpoint(json: string, tensors: CheckpointTensors, files = { json: CHECKPOINT_JSON, tensors: CHECKPOINT_TENSORS }): Promise<TrainingCheckpoint> {
  const { fields: o, lora, state, fail, count } = await readCheckpointParts(json, tensors, files);
  const { step } = state;
  const totalSteps = count(o.totalSteps, 'totalSteps', 1);
  if (step > totalSteps) fail('step', `at most totalSteps (${totalSteps})`);
  const maxSteps = o.maxSteps === null ? null : count(o.maxSteps, 'maxSteps', 1);
  const position = o.position as Record<string, unknown> | null;
  if (typeof position !== 'object' || position === null) fail('position', '{ "epoch", "batch" }');
  const data = o.data as Record<string, unknown> | null;
  if (typeof data !== 'object' || data === null || typeof data.fingerprint !== 'string') fail('data', '{ "examples", "fingerprint" }');
  if (!Array.isArray(o.metrics) || o.metrics.length !== step) fail('metrics', `a list of ${step} step records`);
  if (typeof o.config !== 'object' || o.config === null) fail('config', 'the training settings');
  return {
    version: CHECKPOINT_VERSION,
    config: o.config as TrainConfig,
    maxSteps,
    totalSteps,
    lora,
    position: { epoch: count(position!.epoch, 'position.epoch'), batch: count(position!.batch, 'position.batch') },
    data: { examples: count(data!.examples, 'data.examples', 1), fingerprint: data!.fingerprint as string },
    metrics: o.metrics as TrainStep[],
    state,
  };
}
