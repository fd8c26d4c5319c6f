// Training settings (configs/*.yaml) as a typed, validated object, and the learning-rate
// schedule they describe. Errors name the file, line and field; every number must be finite and
// in a stated range, and every key one the parser reads.
import { LineCounter, parseDocument } from 'yaml';
import { MAX_LORA_ALPHA } from '../model/peft.ts';
import { PROMPT_FORMAT_IDS } from '../model/prompt.ts';
import { quote } from '../model/quote.ts';
import { loraTargets, type LoraTarget } from '../model/tensors.ts';
import { checkTrainConfigKeys } from './train-config-keys.ts';

export interface LoraSettings {
  r: number;
  alpha: number;
  dropout: number;
  rslora: boolean;
  targets: LoraTarget[];
}

/** Learning-rate schedules after the warmup (learningRate below). */
export const LR_SCHEDULES = ['cosine', 'linear', 'constant'] as const;

/**
 * Which tokens the loss is taken over: `all`, the whole sequence (prompt and completion), as TRL's
 * SFTTrainer trains a language-modeling (`text` or `messages`) dataset by default and as QMD's v4
 * run did; `completion`, only the expansion after the prompt.
 */
export const LOSS_SCOPES = ['all', 'completion'] as const;

export interface OptimizerSettings {
  lr: number;
  schedule: (typeof LR_SCHEDULES)[number];
  warmupRatio: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  /** Global L2 norm the summed gradient is clipped to; 0 turns clipping off. */
  maxGradNorm: number;
}

export interface TrainConfig {
  lora: LoraSettings;
  optimizer: OptimizerSettings;
  training: {
    epochs: number;
    batchSize: number;
    gradAccum: number;
    maxLength: number;
    /**
     * Rows of a batch are run in micro-batches of at most this many tokens (rows × padded length;
     * a row longer than it runs alone): activation memory follows it, the gradient does not, since
     * every micro-batch's gradient is weighted by its scored tokens. Absent or 0: the whole batch at once.
     */
    microBatchTokens?: number;
    /** Rebuild each layer's activations in the backward rather than keep them (TRL's gradient checkpointing). Absent: false. */
    recompute?: boolean;
    lossOn: (typeof LOSS_SCOPES)[number];
    seed: number;
  };
  eval: { split: number; seed: number };
  promptFormat: string;
}

/**
 * Upper bounds no sane run reaches (the reference run: r 16, lr 2e-4, batch 4 × 4, length 512,
 * 3 epochs); the model's own shapes bound r further when training starts (peft.ts checkLoraRank).
 */
export const TRAIN_LIMITS = {
  rank: 1_024,
  lr: 1,
  epochs: 1_000,
  batchSize: 1_024,
  gradAccum: 1_024,
  maxLength: 131_072,
  maxGradNorm: 1e6,
  // With lr ≤ 1, decay ≤ 1 only ever shrinks a parameter (p ← p·(1 − lr·decay)); more could grow it to Infinity.
  weightDecay: 1,
  /** Seeds are taken as unsigned 32-bit integers (src/random.ts): a larger one would alias. */
  seed: 2 ** 32 - 1,
} as const;

/** A configs/*.yaml (or QMD's trainer config) is a page of text; a bigger one is refused before it is parsed. */
export const MAX_CONFIG_CHARS = 1_000_000;

/** A closed or half-open interval of allowed values, with the words an error shows for it. */
export interface Range {
  min: number;
  max: number;
  /** The bound itself is excluded. */
  above?: boolean;
  below?: boolean;
  integer?: boolean;
}

const inRange = (v: number, r: Range) =>
  Number.isFinite(v) && (!r.integer || Number.isInteger(v)) && (r.above ? v > r.min : v >= r.min) && (r.below ? v < r.max : v <= r.max);
const rangeText = (r: Range) => `${r.integer ? 'an integer' : 'a number'} in ${r.above ? '(' : '['}${r.min}, ${r.max}${r.below ? ')' : ']'}`;

const positive = (max: number): Range => ({ min: 0, max, above: true });
const fraction: Range = { min: 0, max: 1, below: true };
const count = (min: number, max: number): Range => ({ min, max, integer: true });
const seed = count(0, TRAIN_LIMITS.seed);

/** Every number of a TrainConfig: its key path in the YAML, its range, and where the object holds it. */
const NUMBERS = [
  { path: 'lora.r', range: count(1, TRAIN_LIMITS.rank), of: (c) => c.lora.r },
  { path: 'lora.alpha', range: positive(MAX_LORA_ALPHA), of: (c) => c.lora.alpha },
  { path: 'lora.dropout', range: fraction, of: (c) => c.lora.dropout },
  { path: 'optimizer.lr', range: positive(TRAIN_LIMITS.lr), of: (c) => c.optimizer.lr },
  { path: 'optimizer.warmup_ratio', range: fraction, of: (c) => c.optimizer.warmupRatio },
  { path: 'optimizer.betas.0', range: fraction, of: (c) => c.optimizer.betas[0] },
  { path: 'optimizer.betas.1', range: fraction, of: (c) => c.optimizer.betas[1] },
  { path: 'optimizer.eps', range: positive(1), of: (c) => c.optimizer.eps },
  { path: 'optimizer.weight_decay', range: { min: 0, max: TRAIN_LIMITS.weightDecay }, of: (c) => c.optimizer.weightDecay },
  { path: 'optimizer.max_grad_norm', range: { min: 0, max: TRAIN_LIMITS.maxGradNorm }, of: (c) => c.optimizer.maxGradNorm },
  { path: 'training.epochs', range: positive(TRAIN_LIMITS.epochs), of: (c) => c.training.epochs },
  { path: 'training.batch_size', range: count(1, TRAIN_LIMITS.batchSize), of: (c) => c.training.batchSize },
  { path: 'training.grad_accum', range: count(1, TRAIN_LIMITS.gradAccum), of: (c) => c.training.gradAccum },
  { path: 'training.max_length', range: count(2, TRAIN_LIMITS.maxLength), of: (c) => c.training.maxLength },
  { path: 'training.micro_batch_tokens', range: count(0, TRAIN_LIMITS.maxLength * TRAIN_LIMITS.batchSize), of: (c) => c.training.microBatchTokens ?? 0 },
  { path: 'training.seed', range: seed, of: (c) => c.training.seed },
  { path: 'eval.split', range: fraction, of: (c) => c.eval.split },
  { path: 'eval.seed', range: seed, of: (c) => c.eval.seed },
] as const satisfies readonly { path: string; range: Range; of: (c: TrainConfig) => number }[];

/** The YAML key path of a number of a TrainConfig (`optimizer.lr`). */
export type TrainNumberPath = (typeof NUMBERS)[number]['path'];

const rangeOf = new Map<string, Range>(NUMBERS.map((n) => [n.path, n.range]));

/** The allowed values of the number at `path`: the one home of every limit the YAML, the form and QMD's config share. */
export const numberRange = (path: TrainNumberPath): Readonly<Range> => rangeOf.get(path)!;

/**
 * What is wrong with `v` as the number at `path`, or null; the message names `as` (another file's
 * name for the setting, e.g. QMD's `training.learning_rate`) and the range.
 */
export function numberProblem(path: TrainNumberPath, v: unknown, as: string = path): string | null {
  return rangeProblem(as, v, numberRange(path));
}

const rangeProblem = (path: string, v: unknown, range: Range) =>
  typeof v === 'number' && inRange(v, range) ? null : `${path}: expected ${rangeText(range)}, got ${quote(v)}`;

/**
 * What is out of range in a TrainConfig built elsewhere than parseTrainConfig (the page's form, a
 * worker message), in the YAML's words, or null: the same ranges, so no path trains on .inf.
 */
export function trainConfigProblem(config: TrainConfig): string | null {
  for (const { path, range, of } of NUMBERS) {
    const problem = rangeProblem(path, of(config), range);
    if (problem) return problem;
  }
  const choice = (path: string, v: unknown, options: readonly unknown[]) => (options.includes(v) ? null : `${path}: expected one of ${options.join(', ')}, got ${quote(v)}`);
  const { targets } = config.lora;
  return (
    choice('optimizer.schedule', config.optimizer.schedule, LR_SCHEDULES) ??
    choice('training.loss_on', config.training.lossOn, LOSS_SCOPES) ??
    choice('prompt_format', config.promptFormat, PROMPT_FORMAT_IDS) ??
    choice('lora.rslora', config.lora.rslora, [true, false]) ??
    (!Array.isArray(targets) || targets.length === 0 ? 'lora.targets: expected a non-empty list' : null) ??
    targets.map((t, i) => choice(`lora.targets.${i}`, t, loraTargets)).find((p) => p !== null) ??
    (new Set(targets).size !== targets.length ? 'lora.targets: lists a target twice' : null)
  );
}

export function parseTrainConfig(text: string, source = 'config'): TrainConfig {
  if (text.length > MAX_CONFIG_CHARS) throw new Error(`${source}: ${text.length} characters is over the ${MAX_CONFIG_CHARS} a training config may have`);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0]!.message}`);
  checkTrainConfigKeys(doc, lines, source);

  /** `FILE:LINE` of the value at `path` (`FILE` when it is missing). */
  const at = (path: string[]): string => {
    const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
    return node?.range ? `${source}:${lines.linePos(node.range[0]).line}` : source;
  };
  const where = (path: string[]): string => `${at(path)}: ${path.join('.')}`;
  let root: unknown;
  try {
    root = doc.toJS();
  } catch (error) {
    // The yaml package refuses alias bombs here ("Excessive alias count…").
    throw new Error(`${source}: ${(error as Error).message}`);
  }
  const get = (path: string[]): unknown => {
    const value = path.reduce<unknown>((v, key) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined), root);
    if (value === undefined) throw new Error(`${where(path)}: missing`);
    return value;
  };
  const num = (path: string[]): number => {
    const key = path.join('.');
    const v = get(path);
    const problem = rangeProblem(key, v, rangeOf.get(key)!);
    if (problem) throw new Error(`${at(path)}: ${problem}`);
    return v as number;
  };
  const oneOf = <T extends string>(path: string[], options: readonly T[]): T => {
    const v = get(path);
    if (typeof v !== 'string' || !options.includes(v as T)) {
      throw new Error(`${where(path)}: expected one of ${options.join(', ')}, got ${quote(v)}`);
    }
    return v as T;
  };
  const bool = (path: string[]): boolean => {
    const v = get(path);
    if (typeof v !== 'boolean') throw new Error(`${where(path)}: expected true or false, got ${quote(v)}`);
    return v;
  };

  const targets = get(['lora', 'targets']);
  if (!Array.isArray(targets) || targets.length === 0) throw new Error(`${where(['lora', 'targets'])}: expected a non-empty list`);
  targets.forEach((_, i) => oneOf(['lora', 'targets', String(i)], loraTargets));
  if (new Set(targets).size !== targets.length) throw new Error(`${where(['lora', 'targets'])}: lists a target twice`);
  const betas = get(['optimizer', 'betas']);
  if (!Array.isArray(betas) || betas.length !== 2) throw new Error(`${where(['optimizer', 'betas'])}: expected [beta1, beta2]`);
  const beta = (i: number) => num(['optimizer', 'betas', String(i)]);

  return {
    lora: {
      r: num(['lora', 'r']),
      alpha: num(['lora', 'alpha']),
      dropout: num(['lora', 'dropout']),
      rslora: bool(['lora', 'rslora']),
      targets: targets as LoraTarget[],
    },
    optimizer: {
      lr: num(['optimizer', 'lr']),
      schedule: oneOf(['optimizer', 'schedule'], LR_SCHEDULES),
      warmupRatio: num(['optimizer', 'warmup_ratio']),
      betas: [beta(0), beta(1)],
      eps: num(['optimizer', 'eps']),
      weightDecay: num(['optimizer', 'weight_decay']),
      maxGradNorm: num(['optimizer', 'max_grad_norm']),
    },
    training: {
      epochs: num(['training', 'epochs']),
      batchSize: num(['training', 'batch_size']),
      gradAccum: num(['training', 'grad_accum']),
      maxLength: num(['training', 'max_length']),
      ...(doc.hasIn(['training', 'micro_batch_tokens']) ? { microBatchTokens: num(['training', 'micro_batch_tokens']) } : {}),
      ...(doc.hasIn(['training', 'recompute']) ? { recompute: bool(['training', 'recompute']) } : {}),
      lossOn: oneOf(['training', 'loss_on'], LOSS_SCOPES),
      seed: num(['training', 'seed']),
    },
    eval: {
      split: num(['eval', 'split']),
      seed: num(['eval', 'seed']),
    },
    promptFormat: oneOf(['prompt_format'], PROMPT_FORMAT_IDS),
  };
}

/**
 * `config` as a configs/*.yaml that parseTrainConfig reads back to an equal object: the keys in
 * TRAIN_CONFIG_KEYS order, numbers in JavaScript's shortest round-trip form.
 */
export function formatTrainConfig(config: TrainConfig, header = 'Training settings written by qmd-lab (read by #/train and qmd train --config).'): string {
  const problem = trainConfigProblem(config);
  if (problem) throw new Error(`formatTrainConfig: ${problem}`);
  const c = config;
  const list = (items: readonly (string | number)[]) => `[${items.join(', ')}]`;
  return [
    ...header.split('\n').map((line) => `# ${line}`),
    'lora:',
    `  r: ${c.lora.r}`,
    `  alpha: ${c.lora.alpha}`,
    `  dropout: ${c.lora.dropout}`,
    `  rslora: ${c.lora.rslora}`,
    `  targets: ${list(c.lora.targets)}`,
    'optimizer:',
    `  lr: ${c.optimizer.lr}`,
    `  schedule: ${c.optimizer.schedule}`,
    `  warmup_ratio: ${c.optimizer.warmupRatio}`,
    `  betas: ${list(c.optimizer.betas)}`,
    `  eps: ${c.optimizer.eps}`,
    `  weight_decay: ${c.optimizer.weightDecay}`,
    `  max_grad_norm: ${c.optimizer.maxGradNorm}`,
    'training:',
    `  epochs: ${c.training.epochs}`,
    `  batch_size: ${c.training.batchSize}`,
    `  grad_accum: ${c.training.gradAccum}`,
    `  max_length: ${c.training.maxLength}`,
    ...(c.training.microBatchTokens ? [`  micro_batch_tokens: ${c.training.microBatchTokens}`] : []),
    ...(c.training.recompute ? ['  recompute: true'] : []),
    `  loss_on: ${c.training.lossOn}`,
    `  seed: ${c.training.seed}`,
    'eval:',
    `  split: ${c.eval.split}`,
    `  seed: ${c.eval.seed}`,
    `prompt_format: ${c.promptFormat}`,
    '',
  ].join('\n');
}

/** Optimizer steps for `examples` training rows: ⌈rows / (batch·accum)⌉ per epoch. */
export function totalSteps(config: TrainConfig, examples: number): number {
  const perStep = config.training.batchSize * config.training.gradAccum;
  return Math.ceil(Math.ceil(examples / perStep) * config.training.epochs);
}

/**
 * Learning rate of optimizer step `step` (0-based) of `total`, as Hugging Face's schedulers
 * compute it: linear warmup over ⌈warmup_ratio·total⌉ steps, then cosine / linear decay to 0.
 */
export function learningRate(o: OptimizerSettings, step: number, total: number): number {
  const warmup = Math.ceil(o.warmupRatio * total);
  if (step < warmup) return (o.lr * step) / warmup;
  if (o.schedule === 'constant') return o.lr;
  const progress = (step - warmup) / Math.max(1, total - warmup);
  if (o.schedule === 'linear') return o.lr * Math.max(0, 1 - progress);
  return o.lr * 0.5 * (1 + Math.cos(Math.PI * progress));
}
