import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { openDB } from 'idb';
import { DB_VERSION, DEFAULT_VALIDATION, openLab, type DatasetMeta, type StoredAdapter } from './db.ts';
import { listDatasets } from './store.ts';

let dbCount = 0;
const freshName = () => `db-test-${++dbCount}-${Date.now()}`;

type V2Dataset = Omit<DatasetMeta, 'validation'>;

const dataset = (id: string, name: string, created: number): V2Dataset => ({
  id, name, rows: 3, formats: { input_output: 3, messages: 0, prompt_completion: 0, text: 0 }, rejected: 0, created, source: `${name}.jsonl`, complete: true,
});
const adapter = (id: string, name: string, created: number): StoredAdapter => ({
  id, name, rank: 4, alpha: 8, targets: ['q_proj'], useRslora: false, baseModel: null, bytes: 10, created,
});

/** Version 2 as it shipped, written independently of openLab. */
async function openV2(name: string) {
  return openDB(name, 2, {
    upgrade(db) {
      db.createObjectStore('datasets', { keyPath: 'id' });
      db.createObjectStore('rows', { keyPath: ['datasetId', 'index'] }).createIndex('byDataset', 'datasetId');
      db.createObjectStore('rejections', { keyPath: ['datasetId', 'line'] }).createIndex('byDataset', 'datasetId');
      db.createObjectStore('querySets', { keyPath: 'id' });
      db.createObjectStore('results', { keyPath: 'id' });
      db.createObjectStore('adapters', { keyPath: 'id' });
      db.createObjectStore('adapterFiles', { keyPath: 'adapterId' });
    },
  });
}

describe('schema version 3', () => {
  it("gives every dataset the default validation part and suffixes names stored twice, oldest keeping its name", async () => {
    const name = freshName();
    const v2 = await openV2(name);
    // The old Split made "· train" / "· validation" datasets; a second import of a file doubled its name.
    const old = [
      dataset('d3', 'qmd.jsonl', 30),
      dataset('d1', 'qmd.jsonl', 10),
      dataset('d2', 'qmd.jsonl · validation', 20),
      dataset('d4', 'QMD.jsonl', 40),
    ];
    for (const meta of old) await v2.put('datasets', meta);
    for (const a of [adapter('a2', 'LoRA r16', 2), adapter('a1', 'LoRA r16', 1), adapter('a3', 'other', 3)]) await v2.put('adapters', a);
    await v2.put('adapterFiles', { adapterId: 'a2', config: new ArrayBuffer(4), weights: new ArrayBuffer(6) });
    v2.close();

    const db = await openLab(name);
    expect(db.version).toBe(DB_VERSION);
    const byId = Object.fromEntries((await db.getAll('datasets')).map((d) => [d.id, d]));
    expect(byId).toEqual({
      d1: { ...old[1], validation: DEFAULT_VALIDATION },
      d2: { ...old[2], validation: DEFAULT_VALIDATION },
      d3: { ...old[0], name: 'qmd.jsonl (2)', validation: DEFAULT_VALIDATION },
      d4: { ...old[3], name: 'QMD.jsonl (3)', validation: DEFAULT_VALIDATION },
    });
    const adapters = Object.fromEntries((await db.getAll('adapters')).map((a) => [a.id, a.name]));
    expect(adapters).toEqual({ a1: 'LoRA r16', a2: 'LoRA r16 (2)', a3: 'other' });
    expect(await db.count('adapterFiles')).toBe(1);
    expect((await listDatasets(db)).length).toBe(4);
    db.close();

    // Opened again at version 3: nothing runs twice.
    const again = await openLab(name);
    expect((await again.getAll('datasets')).map((d) => d.name).sort()).toEqual(['QMD.jsonl (3)', 'qmd.jsonl', 'qmd.jsonl (2)', 'qmd.jsonl · validation']);
    again.close();
  });

});

describe('schema version 4', () => {
  it('adds the training-run stores and leaves what version 3 holds as it was (its migration does not run again)', async () => {
    const name = freshName();
    const v3 = await openDB(name, 3, {
      upgrade(db) {
        db.createObjectStore('datasets', { keyPath: 'id' });
        db.createObjectStore('rows', { keyPath: ['datasetId', 'index'] }).createIndex('byDataset', 'datasetId');
        db.createObjectStore('rejections', { keyPath: ['datasetId', 'line'] }).createIndex('byDataset', 'datasetId');
        db.createObjectStore('querySets', { keyPath: 'id' });
        db.createObjectStore('results', { keyPath: 'id' });
        db.createObjectStore('adapters', { keyPath: 'id' });
        db.createObjectStore('adapterFiles', { keyPath: 'adapterId' });
      },
    });
    // Two datasets of one name and one without a validation part: version 3's migration would rename and fill them.
    const stored = [
      { ...dataset('d1', 'qmd.jsonl', 10), validation: { ratio: 0.2, seed: 7 } },
      { ...dataset('d2', 'qmd.jsonl', 20), validation: DEFAULT_VALIDATION },
    ];
    for (const meta of stored) await v3.put('datasets', meta);
    await v3.put('adapters', adapter('a1', 'LoRA r16', 1));
    v3.close();

    const db = await openLab(name);
    expect(db.version).toBe(DB_VERSION);
    expect([...db.objectStoreNames].sort()).toEqual(['adapterFiles', 'adapters', 'datasets', 'querySets', 'rejections', 'results', 'rows', 'trainCheckpoints', 'trainRuns']);
    expect((await db.getAll('datasets')).sort((a, b) => a.created - b.created)).toEqual(stored);
    expect(await db.getAll('adapters')).toEqual([adapter('a1', 'LoRA r16', 1)]);
    expect(await db.count('trainRuns')).toBe(0);
    expect(await db.count('trainCheckpoints')).toBe(0);
    db.close();
  });

  it('a fresh database starts at version 4 with every store', async () => {
    const db = await openLab(freshName());
    expect(db.version).toBe(4);
    expect([...db.objectStoreNames].sort()).toEqual(['adapterFiles', 'adapters', 'datasets', 'querySets', 'rejections', 'results', 'rows', 'trainCheckpoints', 'trainRuns']);
    db.close();
  });
});
