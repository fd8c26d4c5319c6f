// The `qmd retrieve` contract, end to end through the real entry point.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { RetrievalReport } from '../retrieval/eval.ts';

const qmd = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/qmd.ts', 'retrieve', ...args], { encoding: 'utf8' });

describe('qmd retrieve', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qmd-retrieve-'));
  afterAll(() => rmSync(dir, { recursive: true }));
  const notes = join(dir, 'notes');
  mkdirSync(join(notes, 'sub'), { recursive: true });
  mkdirSync(join(notes, '.hidden'));
  writeFileSync(join(notes, 'raft.md'), '# Raft\n\nLeader election and log replication for consensus.');
  writeFileSync(join(notes, 'sub', 'cooking.md'), '# Pasta\n\nA quick dinner: boil water, add salt, cook the noodles.');
  writeFileSync(join(notes, '.hidden', 'raft-secret.md'), '# Raft again\n\nleader election');
  writeFileSync(join(notes, 'image.png'), 'not a note');
  const queries = join(dir, 'queries.jsonl');
  writeFileSync(queries, [
    JSON.stringify({ query: 'leader election', expected_doc: 'raft', difficulty: 'easy' }),
    JSON.stringify({ query: 'how do I make dinner', expected_doc: 'cooking' }),
  ].join('\n'));
  const expansions = join(dir, 'model-a.jsonl');
  writeFileSync(expansions, JSON.stringify({ query: 'how do I make dinner', expansion: 'lex: dinner noodles\nvec: dinner recipes' }) + '\n');

  test('prints per-query ranks per list and the summary, for each variant', () => {
    const run = qmd(['--notes', notes, '--queries', queries, '--expansions', expansions]);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('notes: 2 in');
    expect(run.stdout).toContain('  @1   "leader election" → raft  [fts:original @1/1]');
    expect(run.stdout).toContain('  –    "how do I make dinner" → cooking  [fts:original –/0]');
    expect(run.stdout).toContain('  @1   "how do I make dinner" → cooking  [fts:original –/0 · fts:lex @1/1]');
    const summary = run.stdout.slice(run.stdout.indexOf('\nsummary\n'));
    const row = (label: string) => summary.split('\n').find((l) => l.startsWith(`${label} `))?.split(/\s{2,}/);
    expect(row('no expansion')).toEqual(['no expansion', 'bm25', '2', '50.0 %', '50.0 %', '50.0 %', '0.500']);
    expect(row('model-a')).toEqual(['model-a', 'bm25', '2', '100.0 %', '100.0 %', '100.0 %', '1.000']);
  });

  test('--json gives the whole report', () => {
    const run = qmd(['--notes', notes, '--queries', queries, '--json']);
    const report = JSON.parse(run.stdout) as RetrievalReport;
    expect(report.outcomes.map((o) => o.rank)).toEqual([1, null]);
    expect(report.outcomes[0]!.top).toEqual(['notes/raft.md']);
  });

  test('refuses vector modes without an embedding model, and bad files with their line', () => {
    const vector = qmd(['--notes', notes, '--queries', queries, '--mode', 'vector']);
    expect(vector.status).toBe(2);
    expect(vector.stderr).toContain('--mode vector needs --embed-model DIR');
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"query": "a", "expected_doc": "b"}\n{"query": "a"}\n');
    const run = qmd(['--notes', notes, '--queries', bad]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('bad.jsonl:2: field "expected_doc": expected a string, got nothing (field missing)');
    expect(qmd(['--queries', queries]).status).toBe(2);
  });
});
