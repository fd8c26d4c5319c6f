// The training form's settings: a preset (configs/sft.yaml, QMD's v4 run, by default), edited
// field by field against train-config's ranges, kept in localStorage so a reload keeps them, and
// read from or written to a YAML file of either kind (qmd-lab's or QMD's trainer config).
import quickYaml from '../../../configs/sft-quick.yaml?raw';
import sftYaml from '../../../configs/sft.yaml?raw';
import { DEFAULT_SAMPLE_QUERIES } from '../../engine/protocol.ts';
import { formatQmdTrainerConfig, readTrainConfig } from '../../engine/qmd-trainer-config.ts';
import { formatTrainConfig, numberProblem, numberRange, parseTrainConfig, trainConfigProblem, type TrainConfig, type TrainNumberPath } from '../../engine/train-config.ts';

export type PresetId = 'v4' | 'quick' | 'imported';

export interface TrainSettings {
  config: TrainConfig;
  /** Ends the run early (the schedule shrinks to it); null trains every epoch. */
  maxSteps: number | null;
  /** Steps between checkpoints stored in this browser (a pause and the last step store one too). */
  checkpointEvery: number;
  /** Steps between validation losses; null computes it only after the last step. */
  validateEvery: number | null;
  /** Steps between scored samples of the adapter so far; null samples none. */
  sampleEvery: number | null;
  /** Validation queries each sample pass expands. */
  sampleQueries: number;
  /** Where the values came from; edits keep it (the form says "edited"). */
  preset: PresetId;
  /** The imported file's name (preset "imported"). */
  importedFrom?: string;
  /** QMD's model.base of an imported QMD config, written back when exporting as QMD's. */
  qmdBase?: string;
}

export const PRESETS = [
  { id: 'v4', label: "QMD's v4 run", file: 'configs/sft.yaml', yaml: sftYaml },
  { id: 'quick', label: 'Quick first try', file: 'configs/sft-quick.yaml', yaml: quickYaml },
] as const satisfies readonly { id: PresetId; label: string; file: string; yaml: string }[];

const KEY = 'qmd-lab.train-settings';

/** The page's own settings, kept apart from the YAML config: a preset or an import leaves them as they are. */
export type Cadence = Pick<TrainSettings, 'checkpointEvery' | 'validateEvery' | 'sampleEvery' | 'sampleQueries'>;

/**
 * A checkpoint every 10 steps costs little next to a step (LoRA matrices and moments only);
 * validation only at the end; no samples (each pass costs up to 128 decode steps a query).
 */
const CADENCE: Cadence = { checkpointEvery: 10, validateEvery: null, sampleEvery: null, sampleQueries: DEFAULT_SAMPLE_QUERIES };

export const cadenceOf = ({ checkpointEvery, validateEvery, sampleEvery, sampleQueries }: TrainSettings): Cadence => ({ checkpointEvery, validateEvery, sampleEvery, sampleQueries });

export function presetSettings(id: Exclude<PresetId, 'imported'>): TrainSettings {
  const preset = PRESETS.find((p) => p.id === id)!;
  return { config: parseTrainConfig(preset.yaml, preset.file), maxSteps: null, ...CADENCE, preset: id };
}

export const defaultSettings = (): TrainSettings => presetSettings('v4');

/** The loss scope as the form says it. */
export const LOSS_SCOPE_LABELS: Record<TrainConfig['training']['lossOn'], string> = {
  all: "whole sequence (as QMD's v4 run)",
  completion: 'completion only',
};

/** A number of the form: where it lives, its YAML path (for its range), its label and a line of help. */
export interface NumberField {
  path: TrainNumberPath;
  label: string;
  help: string;
  get(c: TrainConfig): number;
  set(c: TrainConfig, v: number): void;
  testid?: string;
}

const field = (path: TrainNumberPath, label: string, help: string, get: (c: TrainConfig) => number, set: (c: TrainConfig, v: number) => void, testid?: string): NumberField =>
  ({ path, label, help, get, set, testid });

export const LORA_FIELDS: readonly NumberField[] = [
  field('lora.r', 'r', 'Rank of each LoRA pair: more capacity, more memory (v4 run: 16).', (c) => c.lora.r, (c, v) => (c.lora.r = v), 'train-rank'),
  field('lora.alpha', 'alpha', 'The update is scaled by alpha / r (v4 run: 32, twice r).', (c) => c.lora.alpha, (c, v) => (c.lora.alpha = v)),
  field('lora.dropout', 'dropout', 'Share of LoRA inputs zeroed while training (v4 run: 0).', (c) => c.lora.dropout, (c, v) => (c.lora.dropout = v)),
];

export const OPTIMIZER_FIELDS: readonly NumberField[] = [
  field('optimizer.lr', 'learning rate', "AdamW's rate at the top of the schedule (v4 run: 2e-4).", (c) => c.optimizer.lr, (c, v) => (c.optimizer.lr = v)),
  field('optimizer.warmup_ratio', 'warmup ratio', 'Share of the steps over which the rate climbs from 0 (v4 run: 0.03).', (c) => c.optimizer.warmupRatio, (c, v) => (c.optimizer.warmupRatio = v)),
  field('optimizer.max_grad_norm', 'max grad norm', 'The summed gradient is clipped to this length; 0 turns clipping off (TRL: 1).', (c) => c.optimizer.maxGradNorm, (c, v) => (c.optimizer.maxGradNorm = v)),
  field('optimizer.weight_decay', 'weight decay', "AdamW's decay of the LoRA weights per step (TRL: 0).", (c) => c.optimizer.weightDecay, (c, v) => (c.optimizer.weightDecay = v)),
  field('optimizer.betas.0', 'beta1', "Decay of AdamW's running mean of the gradient (TRL: 0.9).", (c) => c.optimizer.betas[0], (c, v) => (c.optimizer.betas[0] = v)),
  field('optimizer.betas.1', 'beta2', "Decay of AdamW's running mean of its square (TRL: 0.999).", (c) => c.optimizer.betas[1], (c, v) => (c.optimizer.betas[1] = v)),
  field('optimizer.eps', 'eps', "Keeps AdamW's division finite (TRL: 1e-8).", (c) => c.optimizer.eps, (c, v) => (c.optimizer.eps = v)),
];

export const SCHEDULE_FIELDS: readonly NumberField[] = [
  field('training.batch_size', 'batch', 'Rows per micro-batch: memory grows with batch × max length (v4 run: 4).', (c) => c.training.batchSize, (c, v) => (c.training.batchSize = v), 'train-batch'),
  field('training.grad_accum', 'grad accum', 'Micro-batches summed into one optimizer step (v4 run: 4, so 16 rows a step).', (c) => c.training.gradAccum, (c, v) => (c.training.gradAccum = v), 'train-accum'),
  field('training.max_length', 'max length', 'Tokens per row, prompt included; longer rows are cut (v4 run: 512).', (c) => c.training.maxLength, (c, v) => (c.training.maxLength = v), 'train-max-length'),
  field('training.micro_batch_tokens', 'micro-batch tokens', 'Runs each batch in pieces of at most this many tokens (rows × padded length): less memory, the same gradient; 0 runs the whole batch at once.', (c) => c.training.microBatchTokens ?? 0, (c, v) => (c.training.microBatchTokens = v), 'train-micro-batch-tokens'),
  field('training.epochs', 'epochs', 'Passes over the train rows; a fraction trains that share of them (v4 run: 3).', (c) => c.training.epochs, (c, v) => (c.training.epochs = v)),
  field('training.seed', 'seed', 'Seeds the new adapter, dropout and the order of the rows (v4 run: 42).', (c) => c.training.seed, (c, v) => (c.training.seed = v)),
];

/**
 * training.recompute (TRL's gradient_checkpointing): a checkbox. Off is written as no key at all, as
 * configs/sft-quick.yaml leaves it (configs/sft.yaml, the v4 run, has it on), so ticking and
 * unticking gives back the file's config.
 */
export const RECOMPUTE_FIELD = {
  label: 'recompute layers',
  help: "Keeps only each layer's input for the backward and runs its forward again there: one more forward per step (1.2× the step time at Qwen3-0.6B on a CPU) for far less activation memory, the same gradient. TRL's gradient_checkpointing, on in the v4 run.",
  get: (c: TrainConfig): boolean => c.training.recompute ?? false,
  set(c: TrainConfig, on: boolean): void {
    if (on) c.training.recompute = true;
    else delete c.training.recompute;
  },
};

/** The input attributes of a field's range (its one home is train-config's). */
export function inputBounds(path: TrainNumberPath): { min: number; max: number; step: number | 'any' } {
  const r = numberRange(path);
  return { min: r.min, max: r.max, step: r.integer ? 1 : 'any' };
}

/** What is wrong with the field's current value (a cleared input reads as NaN), or null. */
export const fieldProblem = (f: NumberField, c: TrainConfig): string | null => numberProblem(f.path, f.get(c));

export const MAX_STEPS_PROBLEM = 'max steps must be empty or an integer ≥ 1';
export const maxStepsProblem = (maxSteps: number | null) => (maxSteps === null || (Number.isInteger(maxSteps) && maxSteps >= 1) ? null : MAX_STEPS_PROBLEM);
export const CHECKPOINT_EVERY_PROBLEM = 'checkpoint every must be an integer ≥ 1';
export const VALIDATE_EVERY_PROBLEM = 'validate every must be empty or an integer ≥ 1';
const stepsCount = (n: unknown) => Number.isInteger(n) && (n as number) >= 1;
export const checkpointEveryProblem = (n: number) => (stepsCount(n) ? null : CHECKPOINT_EVERY_PROBLEM);
export const validateEveryProblem = (n: number | null) => (n === null || stepsCount(n) ? null : VALIDATE_EVERY_PROBLEM);
export const SAMPLE_EVERY_PROBLEM = 'sample every must be empty or an integer ≥ 1';
export const SAMPLE_QUERIES_PROBLEM = 'sample queries must be an integer ≥ 1';
export const sampleEveryProblem = (n: number | null) => (n === null || stepsCount(n) ? null : SAMPLE_EVERY_PROBLEM);
export const sampleQueriesProblem = (n: number) => (stepsCount(n) ? null : SAMPLE_QUERIES_PROBLEM);

/** The saved settings over the defaults, field group by field group; the defaults when nothing (readable) was saved. */
export function loadSettings(storage: Pick<Storage, 'getItem'> | undefined = globalThis.localStorage): TrainSettings {
  const base = defaultSettings();
  try {
    const saved = JSON.parse(storage?.getItem(KEY) ?? 'null') as Partial<TrainSettings> | null;
    if (!saved?.config) return base;
    const c = saved.config;
    return {
      ...base,
      ...saved,
      config: {
        ...base.config,
        ...c,
        lora: { ...base.config.lora, ...c.lora },
        optimizer: { ...base.config.optimizer, ...c.optimizer },
        training: { ...base.config.training, ...c.training },
        eval: { ...base.config.eval, ...c.eval },
      },
      maxSteps: saved.maxSteps ?? null,
      checkpointEvery: saved.checkpointEvery ?? CADENCE.checkpointEvery,
      validateEvery: saved.validateEvery ?? CADENCE.validateEvery,
      sampleEvery: saved.sampleEvery ?? CADENCE.sampleEvery,
      sampleQueries: saved.sampleQueries ?? CADENCE.sampleQueries,
    };
  } catch {
    return base;
  }
}

export function storeSettings(settings: TrainSettings, storage: Pick<Storage, 'setItem'> | undefined = globalThis.localStorage): void {
  try {
    storage?.setItem(KEY, JSON.stringify(settings));
  } catch {
    // Blocked or full storage: the settings then last until the reload, which the page says.
  }
}

/** What is wrong with `s`, in the YAML's words (train-config's ranges), or null. */
export function settingsProblem({ config, maxSteps, checkpointEvery, validateEvery, sampleEvery, sampleQueries }: TrainSettings): string | null {
  return (
    trainConfigProblem(config) ??
    maxStepsProblem(maxSteps) ??
    checkpointEveryProblem(checkpointEvery) ??
    validateEveryProblem(validateEvery) ??
    sampleEveryProblem(sampleEvery) ??
    sampleQueriesProblem(sampleQueries)
  );
}

/** A YAML file of either kind as the form's settings (max steps and the cadence kept), with what its import said. */
export function importSettings(text: string, fileName: string, current: TrainSettings): { settings: TrainSettings; kind: string; warnings: string[] } {
  const read = readTrainConfig(text, fileName);
  return {
    settings: { config: read.config, maxSteps: current.maxSteps, ...cadenceOf(current), preset: 'imported', importedFrom: fileName, ...(read.base ? { qmdBase: read.base } : {}) },
    kind: read.kind === 'qmd-trainer' ? "QMD's trainer config" : "qmd-lab's config",
    warnings: read.warnings,
  };
}

/**
 * The settings as a file: qmd-lab's YAML (what `qmd train --config` and this form read), or QMD's
 * trainer config for `uv run train.py sft` (its eval split the dataset's validation share).
 */
export function exportSettings(settings: TrainSettings, kind: 'qmd-lab' | 'qmd-trainer', validation: { ratio: number; seed: number } | null): { name: string; text: string; warnings: string[] } {
  if (kind === 'qmd-lab') return { name: 'qmd-lab-sft.yaml', text: formatTrainConfig(settings.config), warnings: [] };
  const config = validation ? { ...settings.config, eval: { split: validation.ratio, seed: validation.seed } } : settings.config;
  const { text, warnings } = formatQmdTrainerConfig(config, { base: settings.qmdBase ?? 'Qwen/Qwen3-0.6B', maxSteps: settings.maxSteps });
  return { name: 'qmd-lab.yaml', text, warnings };
}
