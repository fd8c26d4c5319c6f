// Hostile dataset files through the real import (fake-indexeddb): each bad line is rejected with
// its line number and a bounded reason, the good lines around it are kept, and datasets stored
// before are untouched.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../random.ts';
import { openLab, type LabDatabase } from './db.ts';
import { importDataset } from './import.ts';
import { readDataset, type EarlierRow } from './reader.ts';
import { emptyReport, REJECTION_KINDS, REPORT_REJECTIONS, reportToJsonl, reportToText } from './report.ts';
import { ROW_DROPS } from './rows.ts';
import { getRows, listDatasets, loadReport } from './store.ts';

let dbCount = 0;
const freshDb = () => openLab(`import-abuse-${++dbCount}-${Date.now()}`);
const encode = (text: string) => new TextEncoder().encode(text);
const good = (i: number) => JSON.stringify({ input: `query number ${i}`, output: `lex: query ${i}\nvec: what is query number ${i}` });
const nested = (depth: number) => `{"input": "deep", "output": "lex: deep", "extra": ${'['.repeat(depth)}${']'.repeat(depth)}}`;

async function withEarlier(): Promise<{ db: LabDatabase; earlierId: string }> {
  const db = await freshDb();
  const { meta } = await importDataset(db, new File([[good(1), good(2), good(3)].join('\n')], 'earlier.jsonl'));
  return { db, earlierId: meta.id };
}

async function expectEarlierIntact(db: LabDatabase, earlierId: string) {
  const { rows, total } = await getRows(db, earlierId);
  expect(total).toBe(3);
  expect(rows.map((r) => r.query)).toEqual(['query number 1', 'query number 2', 'query number 3']);
}

describe('dataset import of hostile files', () => {
  it('rejects a row nested 10,000 deep by its line and keeps the dataset and the rows around it', async () => {
    const { db, earlierId } = await withEarlier();
    // Batches of 4: the deep row shares its IndexedDB transaction with good rows.
    const text = [good(10), good(11), nested(10_000), good(12), good(13)].join('\n');
    const { meta, report } = await importDataset(db, new File([text], 'deep.jsonl'), { batchSize: 4 });
    expect(meta).toMatchObject({ complete: true, rows: 4, rejected: 1 });
    expect(report.rejections).toEqual([
      { line: 3, kind: 'too_deep', field: '', reason: 'arrays and objects nest deeper than 64 levels (at position 113); the limit is 64' },
    ]);
    expect((await getRows(db, meta.id)).rows.map((r) => r.line)).toEqual([1, 2, 4, 5]);
    expect(await loadReport(db, meta.id)).toEqual(report);
    expect((await listDatasets(db)).map((d) => d.id).sort()).toEqual([earlierId, meta.id].sort());
    await expectEarlierIntact(db, earlierId);
  });

  it('keeps a row nested at the limit, as it was', async () => {
    const db = await freshDb();
    const depth = 64 - 1; // the row's own object is the first level
    const { meta, report } = await importDataset(db, new File([nested(depth)], 'limit.jsonl'));
    expect(report.rejected).toBe(0);
    const [row] = (await getRows(db, meta.id)).rows;
    expect(JSON.stringify(row.original)).toBe(JSON.stringify(JSON.parse(nested(depth))));
  });

  it('quotes at most 8 keys of a row with thousands: the report grows with rows, not keys', async () => {
    const db = await freshDb();
    const keys = (row: number, count: number) => Object.fromEntries(Array.from({ length: count }, (_, k) => [`key_${row}_${k}`, k]));
    const text = Array.from({ length: 100 }, (_, row) => JSON.stringify(keys(row, row === 0 ? 20_000 : 1000))).join('\n');
    const { report } = await importDataset(db, new File([text], 'keys.jsonl'));
    expect(report.rejected).toBe(100);
    expect(report.rejections[0].reason).toBe(
      'expected {"query","output"}, {"input","output"}, {"messages"}, {"prompt","completion"} or {"text"}; found keys ' +
        '"key_0_0", "key_0_1", "key_0_2", "key_0_3", "key_0_4", "key_0_5", "key_0_6", "key_0_7" and 19992 more',
    );
    const bytes = reportToJsonl(report).length;
    console.info(`100 rejections of 1,000- to 20,000-key rows: ${text.length} bytes in, report ${bytes} bytes`);
    for (const r of report.rejections) expect(r.reason.length).toBeLessThan(250);
    expect(bytes).toBeLessThan(100 * 350);
  });

  it('caps long keys and values a reason quotes', async () => {
    const db = await freshDb();
    const long = 'x'.repeat(100_000);
    const text = [JSON.stringify({ [long]: 1 }), JSON.stringify({ input: 'q', output: 7 }), JSON.stringify({ messages: [{ role: 'user', content: long }, { role: 'assistant', content: 'lex: a' }] })].join('\n');
    const { report } = await importDataset(db, new File([text], 'long.jsonl'));
    expect(report.rejections.map((r) => r.line)).toEqual([1, 2, 3]);
    for (const r of report.rejections) expect(r.reason.length).toBeLessThan(300);
  });

  it('reads a file with CR-only line endings line by line', async () => {
    const db = await freshDb();
    const text = [good(1), '{"input": "cut off', good(2), '', good(3)].join('\r') + '\r';
    const { meta, report } = await importDataset(db, new File([text], 'mac.jsonl'));
    expect({ lines: report.lines, rows: report.rows }).toEqual({ lines: 4, rows: 3 });
    expect(report.rejections.map((r) => [r.line, r.kind])).toEqual([[2, 'invalid_json']]);
    expect((await getRows(db, meta.id)).rows.map((r) => r.line)).toEqual([1, 3, 5]);
  });

  it('rejects a line of invalid UTF-8 by its line number, keeps the rest', async () => {
    const db = await freshDb();
    const bytes = new Uint8Array([...encode(`${good(1)}\n{"input": "caf`), 0xe9, ...encode(`", "output": "lex: cafe"}\n${good(2)}\n`)]);
    const { meta, report } = await importDataset(db, new File([bytes], 'latin1.jsonl'));
    expect(report.rejections).toEqual([
      { line: 2, kind: 'invalid_utf8', field: '', reason: 'invalid UTF-8 at byte 15 of the line (0xE9); expected UTF-8 text' },
    ]);
    expect(meta.rows).toBe(2);
  });

  it('says that roles are lower-case', async () => {
    const db = await freshDb();
    const row = { messages: [{ role: 'user', content: 'Expand this search query: a' }, { role: 'Assistant', content: 'lex: a' }] };
    const { report } = await importDataset(db, new File([JSON.stringify(row)], 'roles.jsonl'));
    expect(report.rejections).toEqual([
      { line: 1, kind: 'wrong_type', field: 'messages[1].role', reason: 'messages[1].role: roles are lower-case: expected "assistant", got "Assistant"' },
    ]);
  });

  it('structured rows of thousands of bad items: every item counted, the report bounded by rows', async () => {
    const db = await freshDb();
    const bad = Array.from({ length: 2_000 }, (_, i) => [i % 2 ? 'foo' : 'lex', i % 2 ? 'x' : ' ']);
    const rows = Array.from({ length: 300 }, (_, row) => JSON.stringify({ query: `query ${row}`, output: [['vec', `line ${row}`], ...bad] }));
    const { meta, report } = await importDataset(db, new File([rows.join('\n')], 'items.jsonl'), { batchSize: 100 });
    expect(meta.rows).toBe(300);
    expect(report.drops.count).toBe(300 * 2_000);
    expect(report.drops.listed).toHaveLength(REPORT_REJECTIONS);
    expect(report.drops.listed.filter((d) => d.line === 1)).toHaveLength(ROW_DROPS);
    const bytes = reportToText(report).length;
    console.info(`300 structured rows × 2,000 bad items: ${rows.join('\n').length} bytes in, text report ${bytes} bytes`);
    expect(bytes).toBeLessThan(REPORT_REJECTIONS * 120);
    expect(await loadReport(db, meta.id)).toEqual(report);
  });

  it('2,000 case variants of one structured query: one kept, each later one confirmed against at most one stored row', async () => {
    const variants = Array.from({ length: 2_000 }, (_, i) => {
      const query = [...'docker compose'].map((c, k) => ((i >> (k % 11)) & 1 ? c.toUpperCase() : c)).join('');
      return JSON.stringify({ query: i % 3 ? query : ` ${query} `, output: [['lex', `variant ${i}`]] });
    });
    const kept: EarlierRow[] = [];
    let lookups = 0;
    const report = emptyReport('variants.jsonl');
    const chunks = (async function* () {
      yield encode(variants.join('\n'));
    })();
    for await (const entry of readDataset(chunks, report, (index) => (lookups++, kept[index]))) {
      if (entry.ok) kept.push({ query: entry.row.query, completion: entry.row.completion, line: entry.line });
    }
    expect(report.rows).toBe(1);
    expect(report.rejectedByKind.duplicate).toBe(1_999);
    expect(report.rejections.every((r) => r.reason === 'the same query (ignoring case) as line 1')).toBe(true);
    expect(lookups).toBe(1_999);
  });

  it('random byte mutations of valid rows: every line accepted or rejected by number, nothing lost', async () => {
    const { db, earlierId } = await withEarlier();
    const random = mulberry32(42);
    const pick = <T,>(items: T[]) => items[Math.floor(random() * items.length)]!;
    const inserts = [[0x5b], [0x7b], [0x22], [0x5c], [0x0d], [0x0a], [0xff], [0xc3], [0x00], encode('"role":"USER"'), encode('['.repeat(200))];
    const lines: Uint8Array<ArrayBuffer>[] = [];
    for (let i = 0; i < 400; i++) {
      const bytes = [...encode(good(i))];
      for (let m = Math.floor(random() * 3); m > 0; m--) {
        const at = Math.floor(random() * (bytes.length + 1));
        if (random() < 0.4) bytes.splice(at, 1 + Math.floor(random() * 3));
        else bytes.splice(at, 0, ...pick(inserts));
      }
      lines.push(Uint8Array.from(bytes));
    }
    const file = new File(lines.flatMap((l) => [l, encode('\n')]), 'mutated.jsonl');
    const { meta, report } = await importDataset(db, file, { batchSize: 50 });

    expect(meta.complete).toBe(true);
    expect(report.rows + report.rejected).toBe(report.lines);
    expect(report.rows).toBeGreaterThan(100);
    expect(report.rejected).toBeGreaterThan(100);
    // Inserted line breaks only add lines; every reported line number lies inside the file.
    const totalLines = lines.reduce((n, l) => n + 1 + l.filter((b) => b === 0x0a || b === 0x0d).length, 0);
    for (const r of report.rejections) {
      expect(r.line).toBeGreaterThanOrEqual(1);
      expect(r.line).toBeLessThanOrEqual(totalLines);
      expect(REJECTION_KINDS).toContain(r.kind);
      expect(r.reason.length).toBeLessThan(300);
    }
    // The mutations reach each hostile rule at least once.
    expect([...new Set(report.rejections.map((r) => r.kind))]).toEqual(expect.arrayContaining(['invalid_json', 'invalid_utf8', 'too_deep']));
    expect((await getRows(db, meta.id)).total).toBe(report.rows);
    expect(await loadReport(db, meta.id)).toEqual(report);
    await expectEarlierIntact(db, earlierId);
  });
});
