import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { openLab } from '../data/db.ts';
import { importDataset } from '../data/import.ts';
import { splitDataset } from '../data/split.ts';
import { trainingRows } from './train-run.ts';
import { TRAIN_ROWS } from '../testing/train-rows.ts';

const ROWS = TRAIN_ROWS;

describe('trainingRows', () => {
  it("returns the dataset's train and validation parts as splitDataset draws them, in row order", async () => {
    const db = await openLab(`train-run-test-${Date.now()}`);
    const jsonl = ROWS.map((r) => JSON.stringify({ input: r.query, output: r.completion })).join('\n');
    const { meta } = await importDataset(db, new Blob([jsonl]), { name: 'five' });
    const split = { ratio: 0.4, seed: 3 };
    const parts = await trainingRows(db, meta.id, split);
    const expected = splitDataset(ROWS.length, split);
    // Each row keeps its line in the file, for what is said about it (a skipped row's line).
    expect(parts.validation).toEqual(expected.validation.map((i) => ({ ...ROWS[i], line: i + 1 })));
    expect(parts.train).toEqual(expected.train.map((i) => ({ ...ROWS[i], line: i + 1 })));
    await expect(trainingRows(db, 'missing', split)).rejects.toThrow(/no stored dataset missing/);
  });
});
