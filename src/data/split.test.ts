import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { openLab } from './db.ts';
import { importDataset } from './import.ts';
import { mulberry32 } from '../random.ts';
import fixture from './hf-split.fixture.json';
import { splitAsQmdTrainer, splitDataset, splitRows, validationSize } from './split.ts';
import { trainingRows } from '../app/train-run.ts';
import { exportLines, getDataset, listDatasets, partRows, renameDataset, setValidation, validationQueries } from './store.ts';

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
    expect(splitDataset(10, { ratio: 0 })).toEqual({ validation: [], train: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] });
    expect(() => splitDataset(10, { ratio: 1 })).toThrow('splitDataset: the validation share 1 must be in [0, 1) (0: no validation part)');
    expect(() => splitDataset(10, { seed: -1 })).toThrow('the split seed -1 must be a whole number ≥ 0');
    expect([0, 0.1, 0.25].map((ratio) => validationSize(101, ratio))).toEqual([0, 11, 26]);
  });

  it('spreads validation rows over the whole dataset (not a prefix)', () => {
    const { validation } = splitDataset(1000);
    const firstHalf = validation.filter((i) => i < 500).length;
    expect(firstHalf).toBeGreaterThan(30);
    expect(firstHalf).toBeLessThan(70);
  });
});

describe("a stored dataset's validation part", () => {
  const rows = Array.from({ length: 40 }, (_, i) => JSON.stringify({ input: `query ${i}`, output: `lex: q${i}\nvec: query number ${i}` }));
  const importSet = async (db: Awaited<ReturnType<typeof freshDb>>) => (await importDataset(db, new File([rows.join('\n')], 'set.jsonl'), { name: 'set' })).meta;
  const collect = async <T>(it: AsyncIterable<T>) => {
    const out: T[] = [];
    for await (const x of it) out.push(x);
    return out;
  };

  it('is the default 10 % (seed 42) at import, read from the meta by every part reader, and no new dataset is made', async () => {
    const db = await freshDb();
    const meta = await importSet(db);
    expect(meta.validation).toEqual({ ratio: 0.1, seed: 42 });
    const expected = splitDataset(40);
    expect(await validationQueries(db, meta.id)).toEqual(expected.validation.map((i) => `query ${i}`));
    expect((await collect(partRows(db, meta.id, 'train'))).map((r) => r.index)).toEqual(expected.train);
    expect((await collect(partRows(db, meta.id, 'all'))).length).toBe(40);
    const exported = await collect(exportLines(db, meta.id, 'input_output', 'validation'));
    expect(exported.map((line) => JSON.parse(line).input)).toEqual(expected.validation.map((i) => `query ${i}`));
    expect((await listDatasets(db)).length).toBe(1);
  });

  it('changing ratio or seed changes the parts everywhere; ratio 0 leaves none; bad values are refused and nothing changes', async () => {
    const db = await freshDb();
    const meta = await importSet(db);
    const updated = await setValidation(db, meta.id, { ratio: 0.25, seed: 7 });
    expect(updated.validation).toEqual({ ratio: 0.25, seed: 7 });
    expect((await getDataset(db, meta.id))!.validation).toEqual({ ratio: 0.25, seed: 7 });
    expect(await validationQueries(db, meta.id)).toEqual(splitDataset(40, { ratio: 0.25, seed: 7 }).validation.map((i) => `query ${i}`));
    expect((await collect(partRows(db, meta.id, 'train'))).length).toBe(30);

    await setValidation(db, meta.id, { ratio: 0, seed: 7 });
    expect(await validationQueries(db, meta.id)).toEqual([]);
    expect((await collect(partRows(db, meta.id, 'train'))).length).toBe(40);

    await expect(setValidation(db, meta.id, { ratio: 1, seed: 7 })).rejects.toThrow(`setValidation: dataset ${meta.id}: the validation share 1 must be in [0, 1)`);
    await expect(setValidation(db, meta.id, { ratio: 0.1, seed: 1.5 })).rejects.toThrow('the split seed 1.5 must be a whole number');
    await expect(setValidation(db, 'gone', { ratio: 0.1, seed: 1 })).rejects.toThrow('setValidation: no dataset gone');
    expect((await getDataset(db, meta.id))!.validation).toEqual({ ratio: 0, seed: 7 });
  });

  it("is what Train holds out, and the only hold-out: training rows are the other part, whole", async () => {
    const db = await freshDb();
    const meta = await importSet(db);
    await setValidation(db, meta.id, { ratio: 0.2, seed: 5 });
    const parts = await trainingRows(db, meta.id);
    const expected = splitDataset(40, { ratio: 0.2, seed: 5 });
    expect(parts.validation.map((r) => r.query)).toEqual(expected.validation.map((i) => `query ${i}`));
    expect(parts.train.map((r) => r.query)).toEqual(expected.train.map((i) => `query ${i}`));
    expect(parts.train.length + parts.validation.length).toBe(40);
  });

  it('dataset names never double up: a second import or a rename onto a taken name gets " (2)"', async () => {
    const db = await freshDb();
    const first = await importSet(db);
    const second = await importSet(db);
    expect([first.name, second.name]).toEqual(['set', 'set (2)']);
    expect((await renameDataset(db, first.id, 'SET (2)')).name).toBe('SET (3)');
    expect((await renameDataset(db, second.id, 'set')).name).toBe('set');
  });
});

describe('splitAsQmdTrainer', () => {
  it("holds out the rows QMD's train.py holds out (shuffle, then train_test_split), indexes ascending", () => {
    // hf-split.fixture.json: 57 rows, test_size 0.1, seed 42, shuffled first.
    const expected = fixture.hf_splits.find((s) => s.n === 57 && s.shuffle_first)!;
    const split = splitAsQmdTrainer(57, { ratio: 0.1, seed: 42 });
    expect(split.validation).toEqual([...expected.test].sort((a, b) => a - b));
    expect(split.train).toEqual([...expected.train].sort((a, b) => a - b));
    const v4 = fixture.hf_splits.find((s) => s.n === 57 && !s.shuffle_first)!;
    expect(splitAsQmdTrainer(57, { ratio: 0.1, seed: 42 }, { shuffleFirst: false }).validation).toEqual([...v4.test].sort((a, b) => a - b));
  });
});

describe("a stored dataset split as QMD's trainer draws it", () => {
  // 57 rows: the fixture's own case, so the held-out rows are those the Python script printed.
  const rows = Array.from({ length: 57 }, (_, i) => JSON.stringify({ input: `query ${i}`, output: `lex: q${i}` }));
  const expected = [...fixture.hf_splits.find((s) => s.n === 57 && s.shuffle_first)!.test].sort((a, b) => a - b);

  it('holds out the Python run\'s rows in every part reader and in Train, kept across a reopen; a bad rule is refused', async () => {
    const name = `split-rule-${Date.now()}`;
    let db = await openLab(name);
    const { meta } = await importDataset(db, new File([rows.join('\n')], 'set.jsonl'), { name: 'set' });
    const updated = await setValidation(db, meta.id, { ratio: 0.1, seed: 42, rule: 'qmd-trainer' });
    expect(updated.validation).toEqual({ ratio: 0.1, seed: 42, rule: 'qmd-trainer' });
    // Not what qmd-lab's own shuffle holds out (else the rule would not be read).
    expect(splitDataset(57).validation).not.toEqual(expected);
    db.close();
    db = await openLab(name);
    expect((await getDataset(db, meta.id))!.validation.rule).toBe('qmd-trainer');
    expect(await validationQueries(db, meta.id)).toEqual(expected.map((i) => `query ${i}`));
    const parts = await trainingRows(db, meta.id);
    expect(parts.validation.map((r) => r.query)).toEqual(expected.map((i) => `query ${i}`));
    expect(parts.train.length).toBe(57 - expected.length);
    await expect(setValidation(db, meta.id, { ratio: 0.1, seed: 42, rule: 'numpy' as never })).rejects.toThrow('the split rule "numpy" must be one of qmd-lab, qmd-trainer');
    await expect(setValidation(db, meta.id, { ratio: 0.1, seed: 2 ** 32, rule: 'qmd-trainer' })).rejects.toThrow('below 2^32');
    // Back to qmd-lab's rule: the stored split carries no rule, as splits stored before the choice.
    expect((await setValidation(db, meta.id, { ratio: 0.1, seed: 42, rule: 'qmd-lab' })).validation).toEqual({ ratio: 0.1, seed: 42 });
    db.close();
  });

  it('no validation part at ratio 0, and every row held out when the share leaves none to train on', () => {
    expect(splitRows(5, { ratio: 0, seed: 42, rule: 'qmd-trainer' })).toEqual({ train: [0, 1, 2, 3, 4], validation: [] });
    expect(splitRows(1, { ratio: 0.5, seed: 42, rule: 'qmd-trainer' })).toEqual({ train: [], validation: [0] });
    expect(splitRows(57, { ratio: 0.1, seed: 42, rule: 'qmd-trainer' }).validation).toEqual(expected);
  });
});
