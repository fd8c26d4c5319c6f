// `qmd train` reads its dataset exactly as the page imports it: same rows, same rejections, same words.
import 'fake-indexeddb/auto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openLab } from '../data/db.ts';
import { importDataset } from '../data/import.ts';
import { describeRejection } from '../data/report.ts';
import { getRows } from '../data/store.ts';
import { readDatasetFile } from './dataset-file.ts';

const encode = (text: string) => new TextEncoder().encode(text);
const row = (query: string, completion = `lex: ${query}\nvec: about ${query}`) => JSON.stringify({ input: query, output: completion });

describe('readDatasetFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qmd-dataset-file-'));
  afterAll(() => rmSync(dir, { recursive: true }));

  it('accepts and rejects the lines the page import does, with the same messages', async () => {
    // BOM, CRLF and CR-only breaks, a duplicate, invalid UTF-8, deep nesting, an upper-case role.
    const path = join(dir, 'hostile.jsonl');
    writeFileSync(path, new Uint8Array([
      0xef, 0xbb, 0xbf,
      ...encode(`${row('auth')}\r\n${row('docker')}\r${row('auth')}\n{"input": "caf`),
      0xe9,
      ...encode(`", "output": "lex: cafe"}\n{"input": "x", "output": "lex: x", "n": ${'['.repeat(10_000)}${']'.repeat(10_000)}}\n`),
      ...encode(`${JSON.stringify({ messages: [{ role: 'USER', content: 'Expand this search query: q' }, { role: 'assistant', content: 'lex: q' }] })}\n\n${row('git')}\n`),
    ]));
    const log: string[] = [];
    const rows = await readDatasetFile(path, (line) => log.push(line));

    const db = await openLab(`dataset-file-${Date.now()}`);
    const { meta, report } = await importDataset(db, new File([readFileSync(path)], path));
    const page = (await getRows(db, meta.id)).rows;
    expect(rows).toEqual(page.map(({ query, completion, line }) => ({ query, completion, line })));
    expect(rows.map((r) => [r.line, r.query])).toEqual([[1, 'auth'], [2, 'docker'], [8, 'git']]);
    expect(log).toEqual([...report.rejections.map((r) => `${path}:${r.line}: skipped: ${describeRejection(r)}`), `${path}: 3 rows accepted, 4 lines rejected (of 7)`]);
    expect(log.slice(0, 4)).toEqual([
      `${path}:3: skipped: duplicate: same query and completion as line 1`,
      `${path}:4: skipped: invalid_utf8: invalid UTF-8 at byte 15 of the line (0xE9); expected UTF-8 text`,
      `${path}:5: skipped: too_deep: arrays and objects nest deeper than 64 levels (at position 103); the limit is 64`,
      `${path}:6: skipped: wrong_type at messages[0].role: messages[0].role: roles are lower-case: expected "user", got "USER"`,
    ]);
  });

  it('names the path when the file cannot be read', async () => {
    await expect(readDatasetFile(join(dir, 'absent.jsonl'), () => {})).rejects.toThrow(`${join(dir, 'absent.jsonl')}: cannot read the dataset: ENOENT`);
    await expect(readDatasetFile(dir, () => {})).rejects.toThrow(`${dir}: cannot read the dataset: EISDIR`);
  });
});
