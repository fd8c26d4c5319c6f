import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { openLab } from './db.ts';
import { BUILTIN_QUERY_SETS, QMD_EVAL_SET } from './builtinQuerySets.ts';
import { deleteQuerySet, listQuerySets, parseQueryText, saveQuerySet } from './querySets.ts';

let dbCount = 0;
const freshDb = () => openLab(`query-sets-test-${++dbCount}-${Date.now()}`);

describe('parseQueryText', () => {
  it('one query per line, trimmed, blanks dropped, BOM and CRLF handled', () => {
    expect(parseQueryText('\uFEFF auth \r\n\r\n  docker compose\n\t\ngit rebase', 'mine.txt')).toEqual({
      name: 'mine',
      queries: ['auth', 'docker compose', 'git rebase'],
    });
  });

  it('an empty set is an error naming the file', () => {
    expect(() => parseQueryText(' \n\r\n', 'empty.txt')).toThrow('empty.txt: no queries found (expected one query per line)');
  });
});

describe('built-in sets', () => {
  it('the QMD eval set is configs/queries/qmd-eval.txt, 21 queries', () => {
    const lines = readFileSync(new URL('../../configs/queries/qmd-eval.txt', import.meta.url), 'utf8').trim().split('\n');
    expect(lines.length).toBe(21);
    expect(QMD_EVAL_SET.queries).toEqual(lines);
    expect(BUILTIN_QUERY_SETS).toContain(QMD_EVAL_SET);
  });
});

describe('stored query sets', () => {
  it('save, list newest first, delete', async () => {
    const db = await freshDb();
    const first = await saveQuerySet(db, parseQueryText('auth\nconfig', 'short.txt'));
    await new Promise((r) => setTimeout(r, 5));
    const second = await saveQuerySet(db, { name: 'long', queries: ['how to configure authentication'] });
    expect((await listQuerySets(db)).map((s) => [s.name, s.queries])).toEqual([
      ['long', ['how to configure authentication']],
      ['short', ['auth', 'config']],
    ]);
    await deleteQuerySet(db, second.id);
    expect((await listQuerySets(db)).map((s) => s.id)).toEqual([first.id]);
    await expect(saveQuerySet(db, { name: 'none', queries: [] })).rejects.toThrow(/"none" has no queries/);
  });
});
