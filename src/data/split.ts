// Deterministic train/validation split of a dataset's rows: the one notion of a validation part.
// A stored dataset keeps its own (ratio, seed) in its meta (db.ts ValidationSplit); store.ts reads
// the parts from it for Datasets, Train and Eval.
//
// The permutation is a Fisher–Yates shuffle of the row indexes driven by mulberry32 seeded
// with `seed` (42 by default, as the reference SFT run); the validation part is the first
// ceil(ratio × rows) indexes of the permutation (ratio 0.1 by default; ceil as Hugging Face
// `train_test_split` counts its test part). Same rows + same seed → same split, on every
// machine. It is NOT numpy's permutation, so it does not pick the rows the Python run held out:
// splitAsQmdTrainer does (hf-split.ts): a dataset whose split has rule `qmd-trainer`, and a run
// read from QMD's own trainer config. splitRows picks by the rule.
import { shuffled } from '../random.ts';
import { hfTrainTestSplit } from './hf-split.ts';
import { DEFAULT_VALIDATION, type SplitRule, type ValidationSplit } from './db.ts';

export const SPLIT_RULES: readonly SplitRule[] = ['qmd-lab', 'qmd-trainer'];

export type SplitOptions = Partial<ValidationSplit>;

export interface Split {
  /** Row indexes, ascending. */
  train: number[];
  validation: number[];
}

/** What is wrong with a validation split, or null. */
export function validationProblem({ ratio, seed, rule }: ValidationSplit): string | null {
  if (!(ratio >= 0 && ratio < 1)) return `the validation share ${ratio} must be in [0, 1) (0: no validation part)`;
  if (!(Number.isInteger(seed) && seed >= 0)) return `the split seed ${seed} must be a whole number ≥ 0`;
  if (rule !== undefined && !SPLIT_RULES.includes(rule)) return `the split rule ${JSON.stringify(rule)} must be one of ${SPLIT_RULES.join(', ')}`;
  // numpy's SeedSequence takes any integer; hf-split.ts implements one 32-bit entropy word.
  if (rule === 'qmd-trainer' && seed >= 2 ** 32) return `the split seed ${seed} must be below 2^32 for QMD's trainer's split`;
  return null;
}

/** Rows in the validation part of `rows` rows. */
export function validationSize(rows: number, ratio: number): number {
  return Math.min(rows, Math.ceil(ratio * rows));
}

/** Split row indexes 0..rows−1. */
export function splitDataset(rows: number, { ratio = DEFAULT_VALIDATION.ratio, seed = DEFAULT_VALIDATION.seed }: SplitOptions = {}): Split {
  const problem = validationProblem({ ratio, seed });
  if (problem) throw new Error(`splitDataset: ${problem}`);
  if (!Number.isInteger(rows) || rows < 0) throw new Error(`splitDataset: row count ${rows} must be a whole number ≥ 0`);
  const order = shuffled(rows, seed);
  const size = validationSize(rows, ratio);
  const byIndex = (a: number, b: number) => a - b;
  return {
    validation: order.slice(0, size).sort(byIndex),
    train: order.slice(size).sort(byIndex),
  };
}

/** The parts of `rows` rows as `validation` says: its rule, share and seed (the one dispatch on the rule). */
export function splitRows(rows: number, validation: ValidationSplit): Split {
  if (validation.rule !== 'qmd-trainer') return splitDataset(rows, validation);
  const problem = validationProblem(validation);
  if (problem) throw new Error(`splitRows: ${problem}`);
  // datasets refuses test_size 0 and a split that leaves no train row; here they mean no validation part and all rows held out.
  if (validation.ratio === 0 || rows === 0) return { train: Array.from({ length: rows }, (_, i) => i), validation: [] };
  if (rows - validationSize(rows, validation.ratio) <= 0) return { train: [], validation: Array.from({ length: rows }, (_, i) => i) };
  return splitAsQmdTrainer(rows, validation);
}

/**
 * The split QMD's Python trainer draws, row for row: Hugging Face `train_test_split(test_size=ratio,
 * seed)`, after `shuffle(seed)` when `shuffleFirst` (QMD's train.py since v2; the v4 run split
 * without it). Indexes ascending, as splitDataset returns them.
 */
export function splitAsQmdTrainer(rows: number, { ratio, seed }: ValidationSplit, { shuffleFirst = true } = {}): Split {
  const { train, test } = hfTrainTestSplit(rows, ratio, seed, { shuffleFirst });
  const byIndex = (a: number, b: number) => a - b;
  return { validation: test.sort(byIndex), train: train.sort(byIndex) };
}
