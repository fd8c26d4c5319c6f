import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { openDB } from 'idb';
import { unzipSync } from 'fflate';
import { tinyModelConfig } from '../../scripts/make-tiny-model.ts';
import { bytesSource } from '../model/byte-source.ts';
import { adapterConfigJson, newAdapter, peftTensorName, readPeftAdapter, writePeftAdapter } from '../model/peft.ts';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from '../model/safetensors.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, adapterZip, configWithBase, deleteAdapter, inspectAdapterFiles, listAdapters, pickAdapterFiles, readAdapterFiles, renameAdapter, saveAdapter } from './adapters.ts';
import { DB_VERSION, DEFAULT_VALIDATION, openLab, type DatasetMeta, type DatasetRow, type EvalResult, type QuerySet } from './db.ts';

let dbCount = 0;
const freshName = () => `adapters-test-${++dbCount}-${Date.now()}`;

const model = tinyModelConfig({ hidden: 32, layers: 2, heads: 2, kvHeads: 1, headDim: 16, intermediate: 48, untied: true });
const adapter = newAdapter(model, { r: 4, alpha: 8, targets: ['q_proj', 'v_proj', 'down_proj'], seed: 3, bStd: 0.1 });
const written = writePeftAdapter(adapter, model, 'BF16');
const configBytes = new TextEncoder().encode(written.configJson);
const weights = written.safetensors;

/** The adapter's tensors with `edit` applied to the list, written as safetensors. */
async function editedWeights(edit: (tensors: TensorToWrite[]) => TensorToWrite[]): Promise<Uint8Array> {
  const file = await SafetensorsFile.open(bytesSource(weights));
  const tensors = await Promise.all(
    file.names().map(async (name) => ({ name, dtype: 'F32' as const, shape: file.info(name).shape, data: await file.read(name) })),
  );
  return writeSafetensors(edit(tensors));
}

describe('pickAdapterFiles', () => {
  it('finds the two PEFT files among others, and names what it got otherwise', () => {
    const files = [{ name: 'README.md' }, { name: ADAPTER_WEIGHTS }, { name: ADAPTER_CONFIG }];
    expect(pickAdapterFiles(files)).toEqual({ config: files[2], weights: files[1] });
    expect(() => pickAdapterFiles([{ name: ADAPTER_CONFIG }, { name: 'model.bin' }])).toThrow(
      'expected adapter_config.json and adapter_model.safetensors among the picked files, got adapter_config.json, model.bin',
    );
  });
});

describe('inspectAdapterFiles', () => {
  it('reads rank, alpha, targets, layers and each target projection shape from the files', async () => {
    const summary = await inspectAdapterFiles(configBytes, weights);
    expect(summary.config).toMatchObject({ r: 4, alpha: 8, targets: ['q_proj', 'v_proj', 'down_proj'] });
    expect(summary.layers).toBe(2);
    // q_proj: hidden 32 → 2 heads × 16; v_proj: 32 → 1 × 16; down_proj: 48 → 32.
    expect(summary.shapes).toEqual({ q_proj: [32, 32], v_proj: [16, 32], down_proj: [32, 48] });
  });

  it('accepts the matrices PEFT leaves out under exclude_modules, and still misses the others', async () => {
    const q0 = 'model.layers.0.self_attn.q_proj';
    const without = await editedWeights((tensors) => tensors.filter((t) => !t.name.includes(`.${q0}.`)));
    const excluding = new TextEncoder().encode(JSON.stringify({ ...JSON.parse(written.configJson), exclude_modules: [q0] }));
    expect((await inspectAdapterFiles(excluding, without)).layers).toBe(2);
    await expect(inspectAdapterFiles(configBytes, without)).rejects.toThrow(`missing tensor ${peftTensorName(0, 'q_proj', 'A')}`);
  });

  it('refuses broken files with the file, field or tensor named', async () => {
    await expect(inspectAdapterFiles(new TextEncoder().encode('{"r":'), weights)).rejects.toThrow(/^adapter_config.json: not valid JSON/);
    const noRank = new TextEncoder().encode(JSON.stringify({ ...adapterConfigJson(adapter.config), r: 0 }));
    await expect(inspectAdapterFiles(noRank, weights)).rejects.toThrow('adapter_config.json: r is 0, expected a positive integer');
    await expect(inspectAdapterFiles(configBytes, weights.slice(0, weights.length - 2))).rejects.toThrow(/^adapter_model.safetensors: tensor data ends/);

    const a0 = peftTensorName(0, 'q_proj', 'A');
    const wrongRank = await editedWeights((ts) => ts.map((t) => (t.name === a0 ? { ...t, shape: [2, 64], data: t.data } : t)));
    await expect(inspectAdapterFiles(configBytes, wrongRank)).rejects.toThrow(`tensor ${a0} has shape [2, 64], expected [4, in] (r = 4)`);

    const b1 = peftTensorName(1, 'down_proj', 'B');
    const wider = await editedWeights((ts) => ts.map((t) => (t.name === b1 ? { ...t, shape: [16, 4], data: t.data.subarray(0, 64) } : t)));
    await expect(inspectAdapterFiles(configBytes, wider)).rejects.toThrow(`tensor ${b1} has out = 16, but other layers' down_proj have 32`);

    const missing = await editedWeights((ts) => ts.filter((t) => t.name !== peftTensorName(0, 'v_proj', 'B')));
    await expect(inspectAdapterFiles(configBytes, missing)).rejects.toThrow(`missing tensor ${peftTensorName(0, 'v_proj', 'B')}`);

    const untargeted = peftTensorName(0, 'k_proj', 'A');
    const extra = await editedWeights((ts) => [...ts, { name: untargeted, dtype: 'F32', shape: [4, 32], data: new Float32Array(128) }]);
    await expect(inspectAdapterFiles(configBytes, extra)).rejects.toThrow(`tensor ${untargeted} is for k_proj, but target_modules is [q_proj, v_proj, down_proj]`);

    const foreign = await editedWeights((ts) => [...ts, { name: 'lm_head.weight', dtype: 'F32', shape: [1], data: new Float32Array(1) }]);
    await expect(inspectAdapterFiles(configBytes, foreign)).rejects.toThrow('unexpected tensor lm_head.weight');
  });
});

describe('stored adapters', () => {
  it('save keeps both files byte for byte; they read back as the same adapter; list, rename, delete', async () => {
    const db = await openLab(freshName());
    // A view into a larger buffer: only the view's bytes may be stored.
    const padded = new Uint8Array(weights.length + 10);
    padded.set(weights, 5);
    const saved = await saveAdapter(db, { name: ' my lora ', config: configBytes, weights: padded.subarray(5, 5 + weights.length), checkedWith: 'tiny' });
    expect(saved).toMatchObject({ name: 'my lora', rank: 4, alpha: 8, targets: ['q_proj', 'v_proj', 'down_proj'], baseModel: 'tiny' });
    expect(saved.bytes).toBe(configBytes.length + weights.length);

    const files = await readAdapterFiles(db, saved.id);
    expect(files.config).toEqual(configBytes);
    expect(files.weights).toEqual(weights);
    const back = await readPeftAdapter(JSON.parse(new TextDecoder().decode(files.config)), await SafetensorsFile.open(bytesSource(files.weights)), model);
    const expected = await readPeftAdapter(JSON.parse(written.configJson), await SafetensorsFile.open(bytesSource(weights)), model);
    expect(back).toEqual(expected);

    await new Promise((r) => setTimeout(r, 5));
    const named = new TextEncoder().encode(JSON.stringify({ ...adapterConfigJson(adapter.config), base_model_name_or_path: 'Qwen/Qwen3-0.6B' }));
    const second = await saveAdapter(db, { name: 'second', config: named, weights, checkedWith: 'tiny' });
    expect(second.baseModel).toBe('Qwen/Qwen3-0.6B');
    expect((await listAdapters(db)).map((a) => a.name)).toEqual(['second', 'my lora']);

    expect((await renameAdapter(db, saved.id, ' renamed ')).name).toBe('renamed');
    await expect(renameAdapter(db, saved.id, '  ')).rejects.toThrow(`the new name of adapter ${saved.id} is empty`);
    await expect(renameAdapter(db, 'nope', 'x')).rejects.toThrow('no stored adapter nope');

    await deleteAdapter(db, saved.id);
    expect((await listAdapters(db)).map((a) => a.name)).toEqual(['second']);
    await expect(readAdapterFiles(db, saved.id)).rejects.toThrow(`no stored files for adapter ${saved.id}`);
    db.close();
  });

  it('a file that fails the check stores nothing', async () => {
    const db = await openLab(freshName());
    const bad = await editedWeights((ts) => ts.filter((t) => t.name !== peftTensorName(1, 'q_proj', 'A')));
    await expect(saveAdapter(db, { name: 'bad', config: configBytes, weights: bad })).rejects.toThrow(`missing tensor ${peftTensorName(1, 'q_proj', 'A')}`);
    expect(await listAdapters(db)).toEqual([]);
    expect(await db.count('adapterFiles')).toBe(0);
    db.close();
  });
});

describe('one stored adapter per name and per file pair', () => {
  it('saving the same files again stores nothing new and returns the stored adapter, whatever name is asked', async () => {
    const db = await openLab(freshName());
    const first = await saveAdapter(db, { name: 'trained', config: configBytes, weights, checkedWith: 'tiny' });
    const again = await saveAdapter(db, { name: 'trained', config: configBytes.slice(), weights: weights.slice(), checkedWith: 'tiny' });
    const renamedAsk = await saveAdapter(db, { name: 'other name', config: configBytes, weights });
    expect(again).toEqual(first);
    expect(renamedAsk).toEqual(first);
    expect(await db.count('adapters')).toBe(1);
    expect(await db.count('adapterFiles')).toBe(1);
    db.close();
  });

  it('a different adapter under a taken name, or a rename onto one, gets the first free " (n)"', async () => {
    const db = await openLab(freshName());
    const other = writePeftAdapter(newAdapter(model, { r: 4, alpha: 8, targets: ['q_proj', 'v_proj', 'down_proj'], seed: 4, bStd: 0.1 }), model, 'BF16');
    const third = writePeftAdapter(newAdapter(model, { r: 4, alpha: 8, targets: ['q_proj', 'v_proj', 'down_proj'], seed: 5, bStd: 0.1 }), model, 'BF16');
    // Same size as the first: only the bytes tell them apart.
    expect(other.safetensors.length).toBe(weights.length);
    const first = await saveAdapter(db, { name: 'run', config: configBytes, weights });
    const second = await saveAdapter(db, { name: 'Run ', config: configBytes, weights: other.safetensors });
    const last = await saveAdapter(db, { name: 'run (2)', config: configBytes, weights: third.safetensors });
    expect([first.name, second.name, last.name]).toEqual(['run', 'Run (2)', 'run (3)']);
    expect((await renameAdapter(db, last.id, 'RUN')).name).toBe('RUN (3)');
    expect((await renameAdapter(db, first.id, 'run')).name).toBe('run');
    const names = (await listAdapters(db)).map((a) => a.name.toLowerCase());
    expect(new Set(names).size).toBe(names.length);
    db.close();
  });
});

describe('adapter download', () => {
  const stored = { name: 'my lora', baseModel: 'Qwen/Qwen3-0.6B', created: Date.UTC(2026, 10, 2, 10, 30) } as Parameters<typeof adapterZip>[0];

  it("one zip of both PEFT files, the config given its base model when it names none (as the page's training writes it)", () => {
    const entries = unzipSync(adapterZip(stored, { config: configBytes, weights }));
    expect(Object.keys(entries).sort()).toEqual([ADAPTER_CONFIG, ADAPTER_WEIGHTS]);
    expect(entries[ADAPTER_WEIGHTS]).toEqual(weights);
    const config = JSON.parse(new TextDecoder().decode(entries[ADAPTER_CONFIG]));
    expect(JSON.parse(written.configJson).base_model_name_or_path).toBeNull();
    expect(config).toEqual({ ...JSON.parse(written.configJson), base_model_name_or_path: 'Qwen/Qwen3-0.6B' });
    expect(Object.keys(config)).toEqual(Object.keys(JSON.parse(written.configJson)));
  });

  it("a config that names its base, or an adapter whose base is unknown, goes out byte for byte", () => {
    const named = new TextEncoder().encode(JSON.stringify({ ...adapterConfigJson(adapter.config), base_model_name_or_path: '/models/qwen' }));
    expect(configWithBase(named, 'Qwen/Qwen3-0.6B')).toBe(named);
    expect(configWithBase(configBytes, null)).toBe(configBytes);
    expect(unzipSync(adapterZip(stored, { config: named, weights }))[ADAPTER_CONFIG]).toEqual(named);
  });
});

describe('schema upgrade', () => {
  it('a version 1 database with data opens at the current version with every store and row kept', async () => {
    const name = freshName();
    // Version 1 as it shipped, written independently of openLab.
    const v1 = await openDB(name, 1, {
      upgrade(db) {
        db.createObjectStore('datasets', { keyPath: 'id' });
        db.createObjectStore('rows', { keyPath: ['datasetId', 'index'] }).createIndex('byDataset', 'datasetId');
        db.createObjectStore('rejections', { keyPath: ['datasetId', 'line'] }).createIndex('byDataset', 'datasetId');
        db.createObjectStore('querySets', { keyPath: 'id' });
        db.createObjectStore('results', { keyPath: 'id' });
      },
    });
    const dataset: Omit<DatasetMeta, 'validation'> = {
      id: 'd1', name: 'set', rows: 1, formats: { input_output: 1, messages: 0, prompt_completion: 0, text: 0 },
      rejected: 1, created: 1, source: 'set.jsonl', complete: true,
    };
    const row: DatasetRow = { datasetId: 'd1', index: 0, line: 1, format: 'input_output', query: 'q', completion: 'lex: q', original: { input: 'q' } };
    const querySet: QuerySet = { id: 'q1', name: 'mine', queries: ['auth'], created: 2 };
    const result = { id: 'r1', name: 'run', created: 3 } as EvalResult;
    await v1.put('datasets', dataset);
    await v1.put('rows', row);
    await v1.put('rejections', { datasetId: 'd1', line: 2, kind: 'invalid_json', field: '', reason: 'x' });
    await v1.put('querySets', querySet);
    await v1.put('results', result);
    v1.close();

    const db = await openLab(name);
    expect(db.version).toBe(DB_VERSION);
    expect([...db.objectStoreNames].sort()).toEqual(['adapterFiles', 'adapters', 'datasets', 'querySets', 'rejections', 'results', 'rows', 'trainCheckpoints', 'trainRuns']);
    expect(await db.get('datasets', 'd1')).toEqual({ ...dataset, validation: DEFAULT_VALIDATION });
    expect(await db.getAllFromIndex('rows', 'byDataset', 'd1')).toEqual([row]);
    expect(await db.countFromIndex('rejections', 'byDataset', 'd1')).toBe(1);
    expect(await db.get('querySets', 'q1')).toEqual(querySet);
    expect(await db.get('results', 'r1')).toEqual(result);
    const saved = await saveAdapter(db, { name: 'after upgrade', config: configBytes, weights });
    expect((await listAdapters(db)).map((a) => a.id)).toEqual([saved.id]);
    db.close();

    // Opening again at the current version upgrades nothing and loses nothing.
    const again = await openLab(name);
    expect(await again.count('adapters')).toBe(1);
    expect(await again.count('rows')).toBe(1);
    again.close();
  });
});
