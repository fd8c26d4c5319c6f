// The keys configs/*.yaml may hold, and what an unknown one is told: a misspelt key is named with
// the closest known one; a key of QMD's own Python configs, TRL or PEFT is told its name here or
// that qmd-lab does not implement it. A key the parser never reads would otherwise be ignored.
import { isMap, isScalar, type Document, type LineCounter, type Node } from 'yaml';
import { quote } from '../model/quote.ts';

/** Each section's keys, in the order configs/sft.yaml writes them; null: a scalar at the top level. */
export const TRAIN_CONFIG_KEYS = {
  lora: ['r', 'alpha', 'dropout', 'rslora', 'targets'],
  optimizer: ['lr', 'schedule', 'warmup_ratio', 'betas', 'eps', 'weight_decay', 'max_grad_norm'],
  training: ['epochs', 'batch_size', 'grad_accum', 'max_length', 'micro_batch_tokens', 'recompute', 'loss_on', 'seed'],
  eval: ['split', 'seed'],
  prompt_format: null,
} as const satisfies Record<string, readonly string[] | null>;

// QMD's finetune/train.py configs, TRL's SFTConfig and PEFT's LoraConfig name these settings so.
const RENAMED: Record<string, string> = {
  rank: 'lora.r',
  lora_alpha: 'lora.alpha',
  lora_dropout: 'lora.dropout',
  use_rslora: 'lora.rslora',
  target_modules: 'lora.targets',
  learning_rate: 'optimizer.lr',
  lr_scheduler: 'optimizer.schedule',
  lr_scheduler_type: 'optimizer.schedule',
  adam_beta1: 'optimizer.betas',
  adam_beta2: 'optimizer.betas',
  adam_epsilon: 'optimizer.eps',
  num_train_epochs: 'training.epochs',
  per_device_train_batch_size: 'training.batch_size',
  gradient_accumulation_steps: 'training.grad_accum',
  max_seq_length: 'training.max_length',
  completion_only_loss: 'training.loss_on',
  gradient_checkpointing: 'training.recompute',
  eval_split: 'eval.split',
};

// Settings of those tools that qmd-lab has no counterpart for, and what it does instead.
const NOT_IMPLEMENTED: Record<string, string> = {
  max_steps: 'pass --max-steps to qmd train, or fill in max steps on #/train',
  warmup_steps: 'use optimizer.warmup_ratio',
  save_steps: 'the adapter is written once, when training ends',
  save_total_limit: 'the adapter is written once, when training ends',
  save_interval_minutes: 'the adapter is written once, when training ends',
  eval_steps: 'the eval loss is computed once, after the last step',
  logging_steps: 'every step is reported',
  bf16: 'training runs in float32',
  fp16: 'training runs in float32',
  packing: 'rows are padded per micro-batch, never packed',
  modules_to_save: 'only LoRA matrices are trained',
  bias: 'only LoRA matrices are trained',
  use_dora: 'only plain LoRA is trained',
  grpo: 'only supervised fine-tuning is implemented',
};

// The sections of QMD's own trainer config: a file with one of them and none of optimizer, eval,
// prompt_format is read as that kind (qmd-trainer-config.ts), so here the two kinds are mixed.
const QMD_SECTIONS = ['model', 'dataset', 'tracking'];

/** Levenshtein distance over the first 64 characters of each (a hostile key costs no more). */
function distance(a: string, b: string): number {
  const x = a.slice(0, 64);
  const y = b.slice(0, 64);
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    for (let j = 1; j <= y.length; j++) row.push(Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1)));
    previous = row;
  }
  return previous[y.length]!;
}

/** A key as messages show it: plain when it is a plain word, quoted (and cut) otherwise. */
export const keyText = (key: string) => (/^[\w.-]{1,64}$/.test(key) ? key : quote(key));

/** The known key nearest `key` in edit distance, for "did you mean". */
export const closest = (key: string, known: readonly string[]) => known.reduce((best, k) => (distance(key, k) < distance(key, best) ? k : best));

/** Why `key` (under `section`, or at the top when null) is not read, for the error message. */
function unknownKey(key: string, section: keyof typeof TRAIN_CONFIG_KEYS | null): string {
  const known: readonly string[] = section ? TRAIN_CONFIG_KEYS[section]! : Object.keys(TRAIN_CONFIG_KEYS);
  const where = section ? `under ${section}` : 'at the top level';
  const listing = `(known keys ${where}: ${known.join(', ')})`;
  if (section === null && QMD_SECTIONS.includes(key)) return `a section of QMD's own trainer config, which is read from a file without optimizer, eval and prompt_format: keep the two kinds in separate files ${listing}`;
  if (Object.hasOwn(RENAMED, key)) return `not read: this file calls that setting ${RENAMED[key]} ${listing}`;
  if (Object.hasOwn(NOT_IMPLEMENTED, key)) return `a setting of QMD's Python trainer (TRL/PEFT) that qmd-lab does not implement: ${NOT_IMPLEMENTED[key]} ${listing}`;
  const home = Object.entries(TRAIN_CONFIG_KEYS).find(([name, keys]) => name !== section && (keys as readonly string[] | null)?.includes(key));
  if (home) return `not read here: it belongs under ${home[0]} (${home[0]}.${key}) ${listing}`;
  return `unknown key; the closest known one is ${closest(key, known)} ${listing}`;
}

/**
 * Throws at the first key the parser does not read, naming file, line, key path and why, or when
 * a section is not a mapping. Walks only the top two levels: the values under them are typed by
 * parseTrainConfig.
 */
export function checkTrainConfigKeys(doc: Document, lines: LineCounter, source: string): void {
  const at = (node: Node | null | undefined) => (node?.range ? `:${lines.linePos(node.range[0]).line}` : '');
  const sections = Object.keys(TRAIN_CONFIG_KEYS);
  if (!isMap(doc.contents)) throw new Error(`${source}${at(doc.contents)}: expected a mapping with the keys ${sections.join(', ')}`);
  for (const pair of doc.contents.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : quote(pair.key);
    const keyNode = pair.key as Node;
    if (!Object.hasOwn(TRAIN_CONFIG_KEYS, key)) throw new Error(`${source}${at(keyNode)}: ${keyText(key)}: ${unknownKey(key, null)}`);
    const section = key as keyof typeof TRAIN_CONFIG_KEYS;
    const known = TRAIN_CONFIG_KEYS[section];
    if (known === null) continue;
    if (!isMap(pair.value)) throw new Error(`${source}${at(keyNode)}: ${section}: expected a mapping with the keys ${known.join(', ')}`);
    for (const inner of pair.value.items) {
      const name = isScalar(inner.key) ? String(inner.key.value) : quote(inner.key);
      if (!(known as readonly string[]).includes(name)) throw new Error(`${source}${at(inner.key as Node)}: ${section}.${keyText(name)}: ${unknownKey(name, section)}`);
    }
  }
}
