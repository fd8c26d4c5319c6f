import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { openLab } from './db.ts';
import { importDataset } from './import.ts';
import { mulberry32 } from '../random.ts';
import { saveSplit, splitDataset, splitQueries } from './split.ts';
import { getRows, listDatasets } from './store.ts';

let dbCount = 0;
const freshDb = () => openLab(`split-test-${++dbCount}-${Date.now()}`);

describe('mulberry32', () => {
  it('matches the reference implementation (bryc/code PRNGs.md) for seed 42', () => {
    // First outputs of the published mulberry32 for seed 42, as 32-bit integers × 2^-32.
    const reference = [2581720956, 1925393290, 3661312704].map((u) => u / 4294967296);
    const random = mulberry32(42);
    expect([random(), random(), random()]).toEqual(reference);
  });
});

describe('splitDataset', () => {
  it('is deterministic per seed, disjoint, complete, and ceil(ratio × n) in validation', () => {
    const a = splitDataset(5730);
    expect(splitDataset(5730)).toEqual(a);
    expect(a.validation.length).toBe(573);
    expect(a.train.length).toBe(5157);
    expect([...a.train, ...a.validation].sort((x, y) => x - y)).toEqual(Array.from({ length: 5730 }, (_, i) => i));
    expect(a.validation).toEqual([...a.validation].sort((x, y) => x - y));
    const other = splitDataset(5730, { seed: 7 });
    expect(other.validation).not.toEqual(a.validation);
    expect(splitDataset(101, { ratio: 0.25 }).validation.length).toBe(26);
    expect(splitDataset(1).validation.length).toBe(1);
    expect(() => splitDataset(10, { ratio: 1 })).toThrow(/ratio 1 must be between 0 and 1/);
  });

  it('spreads validation rows over the whole dataset (not a prefix)', () => {
    const { validation } = splitDataset(1000);
    const firstHalf = validation.filter((i) => i < 500).length;
    expect(firstHalf).toBeGreaterThan(30);
    expect(firstHalf).toBeLessThan(70);
  });
});

describe('stored splits', () => {
  it('saves both parts as new datasets and gives the validation queries', async () => {
    const db = await freshDb();
    const rows = Array.from({ length: 40 }, (_, i) => JSON.stringify({ input: `query ${i}`, output: `lex: q${i}\nvec: query number ${i}` }));
    const { meta } = await importDataset(db, new File([rows.join('\n')], 'set.jsonl'), { name: 'set' });
    const expected = splitDataset(40);

    const queries = await splitQueries(db, meta.id);
    expect(queries).toEqual(expected.validation.map((i) => `query ${i}`));
    expect(await splitQueries(db, meta.id, 'train', { seed: 42 })).toEqual(expected.train.map((i) => `query ${i}`));

    const saved = await saveSplit(db, meta.id);
    expect(saved.train).toMatchObject({ name: 'set · train', rows: 36, complete: true, formats: { input_output: 36 } });
    expect(saved.validation).toMatchObject({ name: 'set · validation', rows: 4, complete: true });
    const validationRows = (await getRows(db, saved.validation.id)).rows;
    expect(validationRows.map((r) => [r.index, r.query])).toEqual(expected.validation.map((i, k) => [k, `query ${i}`]));
    expect((await listDatasets(db)).length).toBe(3);
  });
});
