// Training settings (configs/*.yaml) as a typed, validated object, and the learning-rate
// schedule they describe. Errors name the file, line and field.
import { LineCounter, parseDocument } from 'yaml';
import { loraTargets, type LoraTarget } from '../model/tensors.ts';

export interface LoraSettings {
  r: number;
  alpha: number;
  dropout: number;
  rslora: boolean;
  targets: LoraTarget[];
}

export interface OptimizerSettings {
  lr: number;
  schedule: 'cosine' | 'linear' | 'constant';
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
    lossOn: 'completion' | 'all';
    seed: number;
  };
  eval: { split: number; seed: number };
  promptFormat: string;
}

export function parseTrainConfig(text: string, source = 'config'): TrainConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0]!.message}`);

  const where = (path: string[]): string => {
    const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
    const line = node?.range ? `:${lines.linePos(node.range[0]).line}` : '';
    return `${source}${line}: ${path.join('.')}`;
  };
  const root = doc.toJS() as unknown;
  const get = (path: string[]): unknown => {
    const value = path.reduce<unknown>((v, key) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined), root);
    if (value === undefined) throw new Error(`${where(path)}: missing`);
    return value;
  };
  const num = (path: string[], ok: (v: number) => boolean, want: string): number => {
    const v = get(path);
    if (typeof v !== 'number' || !ok(v)) throw new Error(`${where(path)}: expected ${want}, got ${JSON.stringify(v)}`);
    return v;
  };
  const int = (path: string[], min: number) => num(path, (v) => Number.isInteger(v) && v >= min, `an integer ≥ ${min}`);
  const oneOf = <T extends string>(path: string[], options: readonly T[]): T => {
    const v = get(path);
    if (typeof v !== 'string' || !options.includes(v as T)) {
      throw new Error(`${where(path)}: expected one of ${options.join(', ')}, got ${JSON.stringify(v)}`);
    }
    return v as T;
  };
  const bool = (path: string[]): boolean => {
    const v = get(path);
    if (typeof v !== 'boolean') throw new Error(`${where(path)}: expected true or false, got ${JSON.stringify(v)}`);
    return v;
  };

  const targets = get(['lora', 'targets']);
  if (!Array.isArray(targets) || targets.length === 0) throw new Error(`${where(['lora', 'targets'])}: expected a non-empty list`);
  targets.forEach((_, i) => oneOf(['lora', 'targets', String(i)], loraTargets));
  const betas = get(['optimizer', 'betas']);
  if (!Array.isArray(betas) || betas.length !== 2) throw new Error(`${where(['optimizer', 'betas'])}: expected [beta1, beta2]`);
  const beta = (i: number) => num(['optimizer', 'betas', String(i)], (v) => v >= 0 && v < 1, 'a number in [0, 1)');

  return {
    lora: {
      r: int(['lora', 'r'], 1),
      alpha: num(['lora', 'alpha'], (v) => v > 0, 'a number > 0'),
      dropout: num(['lora', 'dropout'], (v) => v >= 0 && v < 1, 'a number in [0, 1)'),
      rslora: bool(['lora', 'rslora']),
      targets: targets as LoraTarget[],
    },
    optimizer: {
      lr: num(['optimizer', 'lr'], (v) => v > 0, 'a number > 0'),
      schedule: oneOf(['optimizer', 'schedule'], ['cosine', 'linear', 'constant'] as const),
      warmupRatio: num(['optimizer', 'warmup_ratio'], (v) => v >= 0 && v < 1, 'a number in [0, 1)'),
      betas: [beta(0), beta(1)],
      eps: num(['optimizer', 'eps'], (v) => v > 0, 'a number > 0'),
      weightDecay: num(['optimizer', 'weight_decay'], (v) => v >= 0, 'a number ≥ 0'),
      maxGradNorm: num(['optimizer', 'max_grad_norm'], (v) => v >= 0, 'a number ≥ 0'),
    },
    training: {
      epochs: num(['training', 'epochs'], (v) => v > 0, 'a number > 0'),
      batchSize: int(['training', 'batch_size'], 1),
      gradAccum: int(['training', 'grad_accum'], 1),
      maxLength: int(['training', 'max_length'], 2),
      lossOn: oneOf(['training', 'loss_on'], ['completion', 'all'] as const),
      seed: int(['training', 'seed'], 0),
    },
    eval: {
      split: num(['eval', 'split'], (v) => v >= 0 && v < 1, 'a number in [0, 1)'),
      seed: int(['eval', 'seed'], 0),
    },
    promptFormat: oneOf(['prompt_format'], ['qmd-v4', 'qmd-1.7b'] as const),
  };
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
