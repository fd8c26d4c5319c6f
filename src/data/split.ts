// Deterministic train/validation split of a dataset's rows.
//
// The permutation is a Fisher–Yates shuffle of the row indexes driven by mulberry32 seeded
// with `seed` (42 by default, as the reference SFT run); the validation part is the first
// ceil(ratio × rows) indexes of the permutation (ratio 0.1 by default; ceil as Hugging Face
// `train_test_split` counts its test part). Same rows + same seed → same split, on every
// machine. It is NOT numpy's permutation, so it does not pick the rows the Python run held out.
import { shuffled } from '../random.ts';
import { newId, type DatasetMeta, type DatasetRow, type LabDatabase } from './db.ts';
import { deleteDataset, getDataset, scanRows } from './store.ts';

export interface SplitOptions {
  /** Share of rows in the validation part, in (0, 1). */
  ratio?: number;
  seed?: number;
}

export interface Split {
  /** Row indexes, ascending. */
  train: number[];
  validation: number[];
}

/** Split row indexes 0..rows−1. */
export function splitDataset(rows: number, { ratio = 0.1, seed = 42 }: SplitOptions = {}): Split {
  if (!(ratio > 0 && ratio < 1)) throw new Error(`splitDataset: ratio ${ratio} must be between 0 and 1 (exclusive)`);
  if (!Number.isInteger(rows) || rows < 0) throw new Error(`splitDataset: row count ${rows} must be a whole number ≥ 0`);
  const order = shuffled(rows, seed);
  const validationSize = Math.min(rows, Math.ceil(ratio * rows));
  const byIndex = (a: number, b: number) => a - b;
  return {
    validation: order.slice(0, validationSize).sort(byIndex),
    train: order.slice(validationSize).sort(byIndex),
  };
}

/** The queries of one part of a stored dataset's split, in row order (a query-set source). */
export async function splitQueries(
  db: LabDatabase,
  id: string,
  part: keyof Split = 'validation',
  opts: SplitOptions = {},
): Promise<string[]> {
  const meta = await getDataset(db, id);
  if (!meta) throw new Error(`splitQueries: no dataset ${id}`);
  const wanted = membership(meta.rows, splitDataset(meta.rows, opts)[part]);
  const queries: string[] = [];
  for await (const row of scanRows(db, id)) if (wanted[row.index]) queries.push(row.query);
  return queries;
}

/**
 * Save both parts of a stored dataset's split as two new datasets named
 * "<name> · train" and "<name> · validation" (rows copied, reindexed from 0).
 */
export async function saveSplit(
  db: LabDatabase,
  id: string,
  opts: SplitOptions = {},
): Promise<{ train: DatasetMeta; validation: DatasetMeta }> {
  const meta = await getDataset(db, id);
  if (!meta) throw new Error(`saveSplit: no dataset ${id}`);
  const isValidation = membership(meta.rows, splitDataset(meta.rows, opts).validation);
  const created = Date.now();
  const part = (suffix: string): DatasetMeta => ({
    ...meta,
    id: newId(),
    name: `${meta.name} · ${suffix}`,
    rows: 0,
    formats: { input_output: 0, messages: 0, prompt_completion: 0, text: 0 },
    rejected: 0,
    created,
    complete: false,
  });
  const train = part('train');
  const validation = part('validation');
  try {
    await db.put('datasets', train);
    await db.put('datasets', validation);
    let batch: DatasetRow[] = [];
    for await (const row of scanRows(db, id)) {
      const target = isValidation[row.index] ? validation : train;
      target.formats[row.format]++;
      batch.push({ ...row, datasetId: target.id, index: target.rows++ });
      if (batch.length >= 1000) batch = await putRows(db, batch);
    }
    await putRows(db, batch);
    const result = { train: { ...train, complete: true }, validation: { ...validation, complete: true } };
    await db.put('datasets', result.train);
    await db.put('datasets', result.validation);
    return result;
  } catch (err) {
    await deleteDataset(db, train.id);
    await deleteDataset(db, validation.id);
    throw err;
  }
}

function membership(rows: number, indexes: number[]): Uint8Array {
  const member = new Uint8Array(rows);
  for (const i of indexes) member[i] = 1;
  return member;
}

async function putRows(db: LabDatabase, rows: DatasetRow[]): Promise<DatasetRow[]> {
  const tx = db.transaction('rows', 'readwrite');
  await Promise.all([...rows.map((row) => tx.store.put(row)), tx.done]);
  return [];
}
