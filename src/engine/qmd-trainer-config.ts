// QMD's own trainer config — the YAML that `uv run train.py sft --config configs/sft.yaml` reads in
// tobi/qmd's finetune/ folder — read into qmd-lab's TrainConfig and written from it, and the one
// reader `qmd train --config` and the page use for either kind of file.
//
// What QMD's train.py `sft` reads (tobi/qmd v2.8.3 = facd35e, finetune/train.py cmd_sft; the v4 run's
// finetune/configs/sft_v4.yaml at 32706a7 has the same layout), with `?` where it has a default:
//   model:    base, output, push_to_hub?
//   dataset:  name, split (hub datasets only), eval_split; text_field is written but never read
//   training: epochs, batch_size, gradient_accumulation_steps, learning_rate, max_length,
//             warmup_ratio, lr_scheduler; save_interval_minutes?, save_steps? (200),
//             save_total_limit? (2), eval_steps? (200), ddp_find_unused_parameters? (false)
//   lora:     rank, alpha, dropout, target_modules
//   tracking: project?, run_name?
// The rest train.py fixes in code or leaves to TRL 1.13's SFTConfig: AdamW betas 0.9/0.999, eps
// 1e-8, weight decay 0, max_grad_norm 1, seed 42, bf16, gradient checkpointing, the loss over the
// whole sequence (a `text`/`messages` dataset); `shuffle(seed=42)` then
// `train_test_split(test_size=eval_split, seed=42)`; PEFT bias none, no rsLoRA.
import { isMap, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { DEFAULT_PROMPT_FORMAT } from '../model/prompt.ts';
import { quote } from '../model/quote.ts';
import { loraTargets, type LoraTarget } from '../model/tensors.ts';
import { closest, keyText } from './train-config-keys.ts';
import { MAX_CONFIG_CHARS, numberProblem, parseTrainConfig, trainConfigProblem, type TrainConfig, type TrainNumberPath } from './train-config.ts';

/** Each section's keys as QMD's configs/sft.yaml writes them. */
export const QMD_TRAINER_KEYS = {
  model: ['base', 'output', 'push_to_hub'],
  dataset: ['name', 'text_field', 'split', 'eval_split'],
  training: [
    'epochs', 'batch_size', 'gradient_accumulation_steps', 'learning_rate', 'max_length', 'warmup_ratio', 'lr_scheduler',
    'save_interval_minutes', 'save_steps', 'save_total_limit', 'eval_steps', 'ddp_find_unused_parameters',
  ],
  lora: ['rank', 'alpha', 'dropout', 'target_modules'],
  tracking: ['project', 'run_name'],
} as const satisfies Record<string, readonly string[]>;

type Section = keyof typeof QMD_TRAINER_KEYS;

/** What train.py fixes (no key in its YAML): TRL 1.13 SFTConfig / PEFT LoraConfig defaults and its own seeds. */
export const QMD_TRAINER_FIXED = {
  betas: [0.9, 0.999] as [number, number],
  eps: 1e-8,
  weightDecay: 0,
  maxGradNorm: 1,
  seed: 42,
  splitSeed: 42,
  rslora: false,
  lossOn: 'all',
  // TRL's gradient checkpointing: training.recompute.
  recompute: true,
} as const;

/** What QMD's train.py does that no setting of either file changes: said with every import and export. */
export const QMD_TRAINER_DIFFERENCES: readonly string[] = [
  "QMD's train.py (v2.8.3) also trains the embedding and LM head in full (PEFT modules_to_save: embed_tokens, lm_head); qmd-lab trains the LoRA matrices only.",
  "TRL tokenizes a row that has `messages` through the chat template (which keeps the empty <think></think> block prepare_data.py strips from `text`) and ignores `text`.",
  'TRL trains in bf16; qmd-lab keeps float32 LoRA parameters, loss and optimizer state (its training.recompute is TRL\'s gradient checkpointing).',
];

/** QMD's number keys and the TrainConfig number each sets (whose range applies). */
const NUMBERS: readonly [Section, string, TrainNumberPath][] = [
  ['lora', 'rank', 'lora.r'],
  ['lora', 'alpha', 'lora.alpha'],
  ['lora', 'dropout', 'lora.dropout'],
  ['training', 'learning_rate', 'optimizer.lr'],
  ['training', 'warmup_ratio', 'optimizer.warmup_ratio'],
  ['training', 'epochs', 'training.epochs'],
  ['training', 'batch_size', 'training.batch_size'],
  ['training', 'gradient_accumulation_steps', 'training.grad_accum'],
  ['training', 'max_length', 'training.max_length'],
  ['dataset', 'eval_split', 'eval.split'],
];

// Keys QMD's train.py reads that have no qmd-lab counterpart: where the adapter and checkpoints go,
// which data, how runs are tracked. Imported files keep working; the import says they were left.
const NOT_USED = ['model.output', 'model.push_to_hub', 'dataset.name', 'dataset.split', 'dataset.text_field', 'training.save_interval_minutes',
  'training.save_steps', 'training.save_total_limit', 'training.eval_steps', 'training.ddp_find_unused_parameters', 'tracking.project', 'tracking.run_name'];

/** Hugging Face scheduler names (transformers SchedulerType) qmd-lab implements, and its own name for each. */
const SCHEDULES: Record<string, TrainConfig['optimizer']['schedule']> = {
  cosine: 'cosine',
  linear: 'linear',
  constant_with_warmup: 'constant',
  constant: 'constant',
};

// qmd-lab's own names, so a key of the other kind of file is told what this one calls it.
const THEIR_NAME: Record<string, string> = {
  r: 'lora.rank',
  targets: 'lora.target_modules',
  lr: 'training.learning_rate',
  schedule: 'training.lr_scheduler',
  grad_accum: 'training.gradient_accumulation_steps',
  split: 'dataset.eval_split',
};

// YAML 1.1 (PyYAML, which train.py reads the file with) resolves a plain scalar as a number only in
// these forms (yaml/resolver.py, decimal ones): `2e-4` and `1e-8` stay strings there.
const PY_YAML_INT = /^[-+]?(?:0|[1-9][0-9_]*)$/;
const PY_YAML_FLOAT = /^[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?$|^\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?$/;

export type TrainConfigKind = 'qmd-lab' | 'qmd-trainer';

export interface ReadTrainConfig {
  config: TrainConfig;
  kind: TrainConfigKind;
  /** QMD's model.base when the file is QMD's (the base model its run fine-tunes). */
  base?: string;
  /** This file's settings qmd-lab reads differently from QMD's train.py, each with file and line. */
  warnings: string[];
}

/** The kind of a parsed training config: QMD's has model/dataset/tracking and none of qmd-lab's own sections. */
function kindOf(doc: Document): TrainConfigKind {
  if (!isMap(doc.contents)) return 'qmd-lab';
  const keys = new Set(doc.contents.items.map((p) => (isScalar(p.key) ? String(p.key.value) : '')));
  const ours = ['optimizer', 'eval', 'prompt_format'].some((k) => keys.has(k));
  return !ours && ['model', 'dataset', 'tracking'].some((k) => keys.has(k)) ? 'qmd-trainer' : 'qmd-lab';
}

/** Either kind of training config, told apart by its sections (`qmd train --config`, the page's import). */
export function readTrainConfig(text: string, source = 'config'): ReadTrainConfig {
  if (text.length > MAX_CONFIG_CHARS) throw new Error(`${source}: ${text.length} characters is over the ${MAX_CONFIG_CHARS} a training config may have`);
  if (kindOf(parseDocument(text)) === 'qmd-trainer') return { kind: 'qmd-trainer', ...parseQmdTrainerConfig(text, source) };
  return { kind: 'qmd-lab', config: parseTrainConfig(text, source), warnings: [] };
}

/**
 * QMD's trainer config as the TrainConfig that trains as its train.py would: keys it does not
 * read are refused naming file, line and the closest key; values out of qmd-lab's ranges or that
 * qmd-lab cannot follow are refused; what is read differently is in `warnings`.
 */
export function parseQmdTrainerConfig(text: string, source = 'config'): { config: TrainConfig; base: string; warnings: string[] } {
  if (text.length > MAX_CONFIG_CHARS) throw new Error(`${source}: ${text.length} characters is over the ${MAX_CONFIG_CHARS} a training config may have`);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0]!.message}`);
  const lineOf = (node: Node | null | undefined) => (node?.range ? lines.linePos(node.range[0]).line : null);
  const nodeAt = (path: string[]) => doc.getIn(path, true) as Node | undefined;
  const fileLine = (path: string[]) => {
    const line = lineOf(nodeAt(path));
    return line ? `${source}:${line}` : source;
  };
  const at = (path: string[]) => `${fileLine(path)}: ${path.join('.')}`;
  checkQmdKeys(doc, source, lineOf);
  let root: Record<string, Record<string, unknown> | undefined>;
  try {
    root = doc.toJS() as typeof root;
  } catch (error) {
    // The yaml package refuses alias bombs here ("Excessive alias count…").
    throw new Error(`${source}: ${(error as Error).message}`);
  }
  const value = (section: Section, key: string): unknown => root[section]?.[key];
  const required = (section: Section, key: string): unknown => {
    const v = value(section, key);
    if (v === undefined || v === null) throw new Error(`${at([section, key])}: missing (QMD's train.py reads cfg["${section}"]["${key}"])`);
    return v;
  };
  const warnings: string[] = [];

  const numbers = new Map<TrainNumberPath, number>();
  for (const [section, key, ours] of NUMBERS) {
    const v = required(section, key);
    const problem = numberProblem(ours, v, `${section}.${key}`);
    if (problem) throw new Error(`${fileLine([section, key])}: ${problem}`);
    const node = nodeAt([section, key]);
    const written = isScalar(node) && node.type === 'PLAIN' ? node.source : undefined;
    if (written !== undefined && !PY_YAML_INT.test(written) && !PY_YAML_FLOAT.test(written)) {
      warnings.push(`${at([section, key])}: PyYAML, which QMD's train.py reads this file with, does not read ${written} as a number (YAML 1.1 needs a dot and a signed exponent: write ${pythonFloat(v as number)}); qmd-lab reads ${v as number}`);
    }
    numbers.set(ours, v as number);
  }
  const n = (path: TrainNumberPath) => numbers.get(path)!;
  if (n('eval.split') === 0) throw new Error(`${at(['dataset', 'eval_split'])}: expected a share in (0, 1): QMD's train.py passes it to train_test_split, which refuses 0`);

  const base = required('model', 'base');
  if (typeof base !== 'string' || base.trim() === '') throw new Error(`${at(['model', 'base'])}: expected the base model (a hub id such as "Qwen/Qwen3-0.6B"), got ${quote(base)}`);

  const schedulerName = required('training', 'lr_scheduler');
  const schedule = typeof schedulerName === 'string' && Object.hasOwn(SCHEDULES, schedulerName) ? SCHEDULES[schedulerName]! : null;
  if (!schedule) throw new Error(`${at(['training', 'lr_scheduler'])}: expected one of ${Object.keys(SCHEDULES).join(', ')} (the Hugging Face schedules qmd-lab implements), got ${quote(schedulerName)}`);
  let warmupRatio = n('optimizer.warmup_ratio');
  if (schedulerName === 'constant' && warmupRatio > 0) {
    // transformers' get_scheduler returns get_constant_schedule for "constant": no warmup at all.
    warnings.push(`${at(['training', 'lr_scheduler'])}: Hugging Face's "constant" schedule ignores warmup_ratio ${warmupRatio}, so it is imported as 0 (write constant_with_warmup to warm up)`);
    warmupRatio = 0;
  }

  const modules = required('lora', 'target_modules');
  const targets = targetModules(modules, (i) => at(['lora', 'target_modules', ...(i === undefined ? [] : [String(i)])]));

  const unused = NOT_USED.filter((path) => value(...(path.split('.') as [Section, string])) !== undefined);
  if (unused.length > 0) {
    const listed = unused.map((path) => `${path} (line ${lineOf(nodeAt(path.split('.'))) ?? '?'})`);
    warnings.push(`${source}: kept for QMD's trainer, not used by qmd-lab (outputs, data, checkpoints, tracking): ${listed.join(', ')}`);
  }

  const config: TrainConfig = {
    lora: { r: n('lora.r'), alpha: n('lora.alpha'), dropout: n('lora.dropout'), rslora: QMD_TRAINER_FIXED.rslora, targets },
    optimizer: {
      lr: n('optimizer.lr'),
      schedule,
      warmupRatio,
      betas: [...QMD_TRAINER_FIXED.betas],
      eps: QMD_TRAINER_FIXED.eps,
      weightDecay: QMD_TRAINER_FIXED.weightDecay,
      maxGradNorm: QMD_TRAINER_FIXED.maxGradNorm,
    },
    training: {
      epochs: n('training.epochs'),
      batchSize: n('training.batch_size'),
      gradAccum: n('training.grad_accum'),
      maxLength: n('training.max_length'),
      recompute: QMD_TRAINER_FIXED.recompute,
      lossOn: QMD_TRAINER_FIXED.lossOn,
      seed: QMD_TRAINER_FIXED.seed,
    },
    eval: { split: n('eval.split'), seed: QMD_TRAINER_FIXED.splitSeed },
    // QMD's prepare_data.py writes the v4 wording into every row, whatever the base model.
    promptFormat: DEFAULT_PROMPT_FORMAT.id,
  };
  return { config, base, warnings };
}

/** PEFT's target_modules: a list of qmd-lab's projection names, or "all-linear" (every projection but the LM head). */
function targetModules(modules: unknown, where: (item?: number) => string): LoraTarget[] {
  if (modules === 'all-linear') return [...loraTargets];
  if (!Array.isArray(modules) || modules.length === 0) throw new Error(`${where()}: expected a non-empty list of ${loraTargets.join(', ')} (or "all-linear"), got ${quote(modules)}`);
  modules.forEach((m, i) => {
    if (!loraTargets.includes(m as LoraTarget)) throw new Error(`${where(i)}: expected one of ${loraTargets.join(', ')}, got ${quote(m)}`);
  });
  if (new Set(modules).size !== modules.length) throw new Error(`${where()}: lists a module twice`);
  // PEFT matches by name, so the order is not meaningful: keep qmd-lab's, as the form does.
  return loraTargets.filter((t) => modules.includes(t));
}

/** Throws at the first key QMD's train.py does not read, naming file, line, key and the closest known one. */
function checkQmdKeys(doc: Document, source: string, lineOf: (node: Node | null | undefined) => number | null): void {
  const at = (node: Node | null | undefined) => (lineOf(node) ? `:${lineOf(node)}` : '');
  const sections = Object.keys(QMD_TRAINER_KEYS);
  if (!isMap(doc.contents)) throw new Error(`${source}${at(doc.contents)}: expected a mapping with the sections ${sections.join(', ')}`);
  for (const pair of doc.contents.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : quote(pair.key);
    const keyNode = pair.key as Node;
    if (!Object.hasOwn(QMD_TRAINER_KEYS, key)) {
      const why = key === 'grpo'
        ? "QMD's GRPO settings: qmd-lab trains SFT only"
        : `not a section QMD's train.py reads; the closest is ${closest(key, sections)} (its sections: ${sections.join(', ')})`;
      throw new Error(`${source}${at(keyNode)}: ${keyText(key)}: ${why}`);
    }
    const known: readonly string[] = QMD_TRAINER_KEYS[key as Section];
    if (!isMap(pair.value)) throw new Error(`${source}${at(keyNode)}: ${key}: expected a mapping with the keys ${known.join(', ')}`);
    for (const inner of pair.value.items) {
      const name = isScalar(inner.key) ? String(inner.key.value) : quote(inner.key);
      if (known.includes(name)) continue;
      const hint = Object.hasOwn(THEIR_NAME, name) ? `qmd-lab's name; QMD's trainer calls it ${THEIR_NAME[name]}` : `unknown key; the closest known one is ${closest(name, known)}`;
      throw new Error(`${source}${at(inner.key as Node)}: ${key}.${keyText(name)}: ${hint} (keys QMD's train.py reads under ${key}: ${known.join(', ')})`);
    }
  }
}

/** `v` as a plain scalar PyYAML reads back as the same float: a dot always (2.0e-4, not 2e-4); JavaScript's exponents are signed already. */
export function pythonFloat(v: number): string {
  const text = String(v);
  const [mantissa, exponent] = text.split('e');
  const dotted = mantissa!.includes('.') ? mantissa! : `${mantissa}.0`;
  return exponent === undefined ? dotted : `${dotted}e${exponent}`;
}

/** A number as QMD's files write it: integers plain, the rest as floats PyYAML reads. */
const pythonNumber = (v: number) => (Number.isInteger(v) ? String(v) : pythonFloat(v));

/** A double-quoted YAML string PyYAML reads back: JSON's escapes, plus the characters PyYAML refuses raw. */
const yamlString = (s: string) => JSON.stringify(s).replace(/[\u007f-\u009f\ufeff\ufffe\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

export interface QmdTrainerTarget {
  /** model.base: the hub id QMD's train.py downloads. */
  base: string;
  /** model.output; default outputs/sft (a local folder: train.py pushes nothing). */
  output?: string;
  /** dataset.name; default data/train/ (what `qmd export-data` and prepare_data.py write). */
  dataset?: string;
  /** tracking.run_name. */
  runName?: string;
  /** The page's max steps: QMD's SFT has no such key, so a value here is warned about. */
  maxSteps?: number | null;
}

/**
 * `config` as QMD's trainer config for `uv run train.py sft --config FILE`, with what that file
 * cannot say in `warnings` (settings train.py fixes, qmd-lab-only options). Numbers are written so
 * PyYAML reads them as numbers. Refused: no eval split (train.py always takes one).
 */
export function formatQmdTrainerConfig(config: TrainConfig, target: QmdTrainerTarget): { text: string; warnings: string[] } {
  const problem = trainConfigProblem(config);
  if (problem) throw new Error(`formatQmdTrainerConfig: ${problem}`);
  if (config.eval.split === 0) throw new Error("eval.split is 0: QMD's train.py always holds out an eval split (train_test_split needs a test_size in (0, 1)); set one before exporting");
  const { lora, optimizer: o, training: t } = config;
  const fixed = QMD_TRAINER_FIXED;
  const warnings: string[] = [];
  const differs = (what: string, ours: unknown, theirs: unknown) => {
    if (JSON.stringify(ours) !== JSON.stringify(theirs)) warnings.push(`${what} ${JSON.stringify(ours)} has no key in QMD's trainer config: its train.py uses ${JSON.stringify(theirs)}`);
  };
  differs('lora.rslora', lora.rslora, fixed.rslora);
  differs('optimizer.betas', o.betas, fixed.betas);
  differs('optimizer.eps', o.eps, fixed.eps);
  differs('optimizer.weight_decay', o.weightDecay, fixed.weightDecay);
  differs('optimizer.max_grad_norm', o.maxGradNorm, fixed.maxGradNorm);
  differs('training.seed', t.seed, fixed.seed);
  differs('eval.seed', config.eval.seed, fixed.splitSeed);
  if (t.lossOn !== fixed.lossOn) warnings.push("training.loss_on completion: QMD's train.py trains its text/messages rows over the whole sequence (TRL has no completion-only loss for them)");
  if (config.promptFormat !== DEFAULT_PROMPT_FORMAT.id) warnings.push(`prompt_format ${config.promptFormat}: the prompt is in the data, not the config; export the dataset with the same format`);
  if (target.maxSteps != null) warnings.push(`max steps ${target.maxSteps}: QMD's train.py sft has no max_steps; it trains ${t.epochs} epochs`);
  // "constant" in transformers skips the warmup; qmd-lab's constant schedule warms up first.
  const scheduler = o.schedule === 'constant' && o.warmupRatio > 0 ? 'constant_with_warmup' : o.schedule;
  const text = [
    "# QMD trainer config written by qmd-lab: run it in tobi/qmd's finetune/ folder with",
    '#   uv run train.py sft --config THIS_FILE',
    '# after putting the dataset qmd-lab exported (train.jsonl, val.jsonl) in data/train/.',
    'model:',
    `  base: ${yamlString(target.base)}`,
    `  output: ${yamlString(target.output ?? 'outputs/sft')}`,
    '',
    'dataset:',
    `  name: ${yamlString(target.dataset ?? 'data/train/')}`,
    '  text_field: "text"',
    '  split: "train"',
    `  eval_split: ${pythonFloat(config.eval.split)}`,
    '',
    'training:',
    `  epochs: ${pythonNumber(t.epochs)}`,
    `  batch_size: ${t.batchSize}`,
    `  gradient_accumulation_steps: ${t.gradAccum}`,
    `  learning_rate: ${pythonFloat(o.lr)}`,
    `  max_length: ${t.maxLength}`,
    `  warmup_ratio: ${pythonFloat(o.warmupRatio)}`,
    `  lr_scheduler: "${scheduler}"`,
    '',
    'lora:',
    `  rank: ${lora.r}`,
    `  alpha: ${pythonNumber(lora.alpha)}`,
    `  dropout: ${pythonFloat(lora.dropout)}`,
    '  target_modules:',
    ...lora.targets.map((m) => `    - "${m}"`),
    '',
    'tracking:',
    '  project: "qmd-query-expansion"',
    `  run_name: ${yamlString(target.runName ?? 'qmd-lab export')}`,
    '',
  ].join('\n');
  return { text, warnings };
}
