import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { sharedFile } from '../testing/shared.ts';
import { openLab, type LabDatabase } from './db.ts';
import { importDataset, type ImportProgress } from './import.ts';
import { reportToJsonl, reportToText } from './report.ts';
import { datasetRange, deleteDataset, exportBlob, exportLines, getDataset, getRows, listDatasets, loadReport, purgeIncomplete, renameDataset } from './store.ts';

let dbCount = 0;
const freshDb = () => openLab(`import-test-${++dbCount}-${Date.now()}`);
const jsonl = (rows: unknown[]) => rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n');
const file = (text: string, name = 'set.jsonl') => new File([text], name);

const C1 = 'lex: auth config\nvec: how to configure authentication';
const C2 = 'lex: docker network\nvec: how do containers talk in docker compose';
const ask = (q: string) => `/no_think Expand this search query: ${q}`;

// Line by line: what each line of MIXED is (1-based line numbers).
const MIXED = [
  { input: 'auth', output: C1 }, // 1 input_output
  { messages: [{ role: 'user', content: ask('docker compose') }, { role: 'assistant', content: C2 }] }, // 2 messages
  { prompt: 'Expand this search query: git rebase', completion: C1 }, // 3 prompt_completion
  { text: `<|im_start|>user\n${ask('cors')}<|im_end|>\n<|im_start|>assistant\n${C2}<|im_end|>\n` }, // 4 text
  '', // 5 blank: skipped, still counted
  '{"input": "auth"', // 6 invalid_json
  { input: 'auth' }, // 7 missing_field output
  { input: 'auth', output: ['lex: a'] }, // 8 wrong_type output
  { input: 'auth', output: '' }, // 9 empty_completion
  { messages: [{ role: 'user', content: 'hello' }, { role: 'assistant', content: C1 }] }, // 10 not_qmd_prompt
  { prompt: [{ role: 'user', content: 'Expand this search query: auth' }], completion: C1 }, // 11 duplicate of line 1
];

// QMD's structured rows, after MIXED (so from line 12).
const STRUCTURED = [
  { query: 'Auth Setup', output: [['vec', 'how to set up auth'], ['foo', 'x'], ['lex', 'auth setup']], intent: 'for a team', category: 'tech' }, // 12 structured, item 1 left out
  { query: ' auth setup', output: [['lex', 'another']] }, // 13 duplicate of line 12: the same query, ignoring case
  { query: 'q', output: [['foo', 'a']] }, // 14 empty_completion: every item left out
  { query: 'AUTH', output: [['lex', 'auth config']] }, // 15 structured: line 1 is not a structured row, so not a duplicate
];

async function countRows(db: LabDatabase, store: 'rows' | 'rejections'): Promise<number> {
  return db.count(store);
}

describe('importDataset', () => {
  it('detects every format, rejects with kind, field and line, and stores rows and rejections', async () => {
    const db = await freshDb();
    const { meta, report } = await importDataset(db, file(jsonl([...MIXED, ...STRUCTURED]).replaceAll('\n', '\r\n') + '\r\n'), { batchSize: 3 });
    expect(report.formats).toEqual({ structured: 2, input_output: 1, messages: 1, prompt_completion: 1, text: 1 });
    expect(report.rejections.map(({ line, kind, field }) => ({ line, kind, field }))).toEqual([
      { line: 6, kind: 'invalid_json', field: '' },
      { line: 7, kind: 'missing_field', field: 'output' },
      { line: 8, kind: 'wrong_type', field: 'output' },
      { line: 9, kind: 'empty_completion', field: 'output' },
      { line: 10, kind: 'not_qmd_prompt', field: 'messages[0].content' },
      { line: 11, kind: 'duplicate', field: '' },
      { line: 13, kind: 'duplicate', field: 'query' },
      { line: 14, kind: 'empty_completion', field: 'output' },
    ]);
    expect(report.rejections[5].reason).toBe('same query and completion as line 1');
    expect(report.rejections[6].reason).toBe('the same query (ignoring case) as line 12');
    expect({ lines: report.lines, rows: report.rows, rejected: report.rejected }).toEqual({ lines: 14, rows: 6, rejected: 8 });
    expect(meta).toMatchObject({ name: 'set.jsonl', source: 'set.jsonl', rows: 6, rejected: 8, complete: true });
    expect(report.drops).toEqual({ count: 1, listed: [{ line: 12, field: 'output[1][0]', reason: 'expected "hyde", "lex" or "vec", got string "foo"' }] });

    const { rows, total } = await getRows(db, meta.id);
    expect(total).toBe(6);
    expect(rows.map((r) => [r.index, r.line, r.format, r.query, r.completion, r.intent])).toEqual([
      [0, 1, 'input_output', 'auth', C1, undefined],
      [1, 2, 'messages', 'docker compose', C2, undefined],
      [2, 3, 'prompt_completion', 'git rebase', C1, undefined],
      [3, 4, 'text', 'cors', C2, undefined],
      [4, 12, 'structured', 'Auth Setup', 'lex: auth setup\nvec: how to set up auth', 'for a team'],
      [5, 15, 'structured', 'AUTH', 'lex: auth config', undefined],
    ]);
    expect(rows[1].original).toEqual(MIXED[1]);
    expect(rows[4].original).toEqual(STRUCTURED[0]);
    expect(await loadReport(db, meta.id)).toEqual(report);

    const text = reportToText(report);
    expect(text).toContain('line 8: wrong_type at output: output: expected a string');
    expect(text).toContain('rejected: invalid_json 1, missing_field 1, wrong_type 1, empty_completion 2, not_qmd_prompt 1, duplicate 2');
    expect(text).toContain('line 12: left out output[1][0]: expected "hyde", "lex" or "vec", got string "foo"');
    const [summary, ...lines] = reportToJsonl(report).trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(summary.summary.rows).toBe(6);
    expect(lines.map((l) => l.line)).toEqual([6, 7, 8, 9, 10, 11, 13, 14]);

    // The row's intent reaches the exported conversation as the v4 prompt renders it.
    const exported: string[] = [];
    for await (const line of exportLines(db, meta.id, 'messages')) exported.push(JSON.parse(line).messages[0].content);
    expect(exported[4]).toBe('/no_think Expand this search query: Auth Setup\nQuery intent: for a team');
  });

  it('finds duplicates across batches already written (exact, not by hash alone)', async () => {
    const db = await freshDb();
    const rows = ['a', 'b', 'c', 'd', 'a', 'e', 'b'].map((q) => ({ input: q, output: C1 }));
    const { report } = await importDataset(db, file(jsonl(rows)), { batchSize: 2 });
    expect(report.rows).toBe(5);
    expect(report.rejections.map((r) => [r.line, r.kind, r.reason])).toEqual([
      [5, 'duplicate', 'same query and completion as line 1'],
      [7, 'duplicate', 'same query and completion as line 2'],
    ]);
  });

  it('imports the QMD training set (../shared/data/qmd_expansion.jsonl)', async () => {
    const path = sharedFile('data/qmd_expansion.jsonl');
    if (!path) return;
    const text = readFileSync(path, 'utf8');
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    const unique = new Set(lines.map((l) => JSON.stringify([JSON.parse(l).input.trim(), JSON.parse(l).output])));
    expect(lines.length).toBe(5730);

    const db = await freshDb();
    const progress: ImportProgress[] = [];
    const started = performance.now();
    const { meta, report } = await importDataset(db, file(text, 'qmd_expansion.jsonl'), { onProgress: (p) => progress.push(p) });
    console.info(`imported ${report.rows} rows in ${(performance.now() - started).toFixed(0)} ms (fake-indexeddb)`);
    expect(report.formats).toEqual({ structured: 0, input_output: unique.size, messages: 0, prompt_completion: 0, text: 0 });
    expect(report.rejected).toBe(lines.length - unique.size);
    expect(report.rejectedByKind.duplicate).toBe(report.rejected);
    expect(meta.rows).toBe(unique.size);
    expect(await countRows(db, 'rows')).toBe(unique.size);
    expect(progress.at(-1)).toEqual({ bytes: Buffer.byteLength(text), total: Buffer.byteLength(text), rows: unique.size, rejected: report.rejected });
    expect(progress.map((p) => p.bytes)).toEqual([...progress.map((p) => p.bytes)].sort((a, b) => a - b));
  });

  it('cancelled mid-way: deletes what it wrote, earlier datasets intact, nothing partial listed', async () => {
    const db = await freshDb();
    const earlier = await importDataset(db, file(jsonl(MIXED)), { name: 'earlier' });
    const controller = new AbortController();
    const big = Array.from({ length: 5000 }, (_, i) => ({ input: `query ${i}`, output: C1 }));
    let seen = 0;
    const importing = importDataset(db, file(jsonl(big)), {
      batchSize: 100,
      signal: controller.signal,
      onProgress: () => {
        if (++seen === 3) controller.abort();
      },
    });
    await expect(importing).rejects.toThrow(/abort/i);
    await expectOnly(db, earlier.meta.id, 4, 6);
  });

  it('failing mid-way (the file stream errors): same guarantees', async () => {
    const db = await freshDb();
    const earlier = await importDataset(db, file(jsonl(MIXED)), { name: 'earlier' });
    const first = new TextEncoder().encode(jsonl(Array.from({ length: 300 }, (_, i) => ({ input: `q${i}`, output: C1 }))) + '\n');
    class UnreadableFile extends File {
      override stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
        let sent = false;
        return new ReadableStream({
          pull(controller) {
            if (sent) controller.error(new Error('NotReadableError: the file changed on disk'));
            else controller.enqueue(first);
            sent = true;
          },
        });
      }
    }
    const importing = importDataset(db, new UnreadableFile([first], 'gone.jsonl'), { batchSize: 50 });
    await expect(importing).rejects.toThrow('the file changed on disk');
    await expectOnly(db, earlier.meta.id, 4, 6);
  });

  it('purgeIncomplete removes an import that died with its tab', async () => {
    const db = await freshDb();
    const kept = await importDataset(db, file(jsonl(MIXED)));
    await db.put('datasets', { ...kept.meta, id: 'dead', complete: false });
    await db.put('rows', { datasetId: 'dead', index: 0, line: 1, format: 'input_output', query: 'q', completion: C1, original: null });
    expect(await getDataset(db, 'dead')).toBeUndefined();
    expect(await purgeIncomplete(db)).toBe(1);
    await expectOnly(db, kept.meta.id, 4, 6);
  });
});

async function expectOnly(db: LabDatabase, id: string, rows: number, rejections: number) {
  expect((await listDatasets(db)).map((d) => d.id)).toEqual([id]);
  expect((await db.getAll('datasets')).map((d) => d.id)).toEqual([id]);
  expect(await countRows(db, 'rows')).toBe(rows);
  expect(await countRows(db, 'rejections')).toBe(rejections);
  expect(await db.count('rows', datasetRange(id))).toBe(rows);
}

describe('stored datasets', () => {
  it('lists newest first, renames, pages and searches rows', async () => {
    const db = await freshDb();
    const a = await importDataset(db, file(jsonl(MIXED), 'a.jsonl'));
    await new Promise((r) => setTimeout(r, 5));
    const b = await importDataset(db, file(jsonl(MIXED.slice(0, 2)), 'b.jsonl'));
    expect((await listDatasets(db)).map((d) => d.name)).toEqual(['b.jsonl', 'a.jsonl']);

    expect((await renameDataset(db, a.meta.id, '  training v1 ')).name).toBe('training v1');
    expect((await getDataset(db, a.meta.id))?.name).toBe('training v1');
    await expect(renameDataset(db, a.meta.id, ' ')).rejects.toThrow(/empty/);
    await expect(renameDataset(db, 'nope', 'x')).rejects.toThrow(/no dataset nope/);

    const page = await getRows(db, a.meta.id, { offset: 1, limit: 2 });
    expect(page.total).toBe(4);
    expect(page.rows.map((r) => r.query)).toEqual(['docker compose', 'git rebase']);
    const docker = await getRows(db, a.meta.id, { search: 'DOCKER' });
    expect(docker.rows.map((r) => r.query)).toEqual(['docker compose', 'cors']);
    expect((await getRows(db, a.meta.id, { search: 'docker', offset: 1 })).rows.map((r) => r.query)).toEqual(['cors']);

    await deleteDataset(db, a.meta.id);
    await expectOnly(db, b.meta.id, 2, 0);
  });

  it('export then re-import gives the same query/completion pairs, in both formats', async () => {
    const db = await freshDb();
    const { meta } = await importDataset(db, file(jsonl(MIXED)));
    const pairs = (await getRows(db, meta.id)).rows.map((r) => [r.query, r.completion]);
    for (const format of ['messages', 'input_output'] as const) {
      const blob = await exportBlob(db, meta.id, format);
      const again = await importDataset(db, new File([blob], `export.${format}.jsonl`));
      expect(again.report.rejected).toBe(0);
      expect(again.report.formats[format]).toBe(4);
      expect((await getRows(db, again.meta.id)).rows.map((r) => [r.query, r.completion])).toEqual(pairs);
    }
    const lines: string[] = [];
    for await (const line of exportLines(db, meta.id, 'input_output')) lines.push(line);
    expect(JSON.parse(lines[0])).toEqual({ input: 'auth', output: C1 });
  });
});
