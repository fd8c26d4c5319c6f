// The `qmd score` contract, end to end through the real entry point.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { scoreBoth } from '../scoring/index.ts';

function qmdScore(args: string[], stdin?: string) {
  const run = spawnSync('npx', ['tsx', 'src/cli/qmd.ts', 'score', ...args], { encoding: 'utf8', input: stdin });
  const out = run.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code: run.status, out, stderr: run.stderr };
}

const good = { id: 'a1', query: 'install Docker on Ubuntu', expansion: 'lex: docker ubuntu\nvec: how to install docker on ubuntu' };
const continuation = { query: 'q', expansion: 'Sure, here it is' };

describe('qmd score', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qmd-score-'));
  afterAll(() => rmSync(dir, { recursive: true }));

  test('scores good rows, reports bad rows by 1-based line and exits 1', () => {
    const file = join(dir, 'mixed.jsonl');
    writeFileSync(file, [
      JSON.stringify(good),
      '',
      '{"query": 1, "expansion": "lex: a"}',
      'not json',
      '["query"]',
      '{"query": "q"}\r',
      JSON.stringify(continuation),
    ].join('\n'));
    const { code, out } = qmdScore([file]);
    expect(code).toBe(1);
    expect(out).toHaveLength(6);
    expect(out[0]).toEqual({ ...good, ...scoreBoth(good.query, good.expansion) });
    expect(out[1]).toEqual({ line: 3, error: 'field "query": expected a string, got a number' });
    expect(out[2]).toMatchObject({ line: 4, error: expect.stringMatching(/^invalid JSON/) });
    expect(out[3]).toMatchObject({ line: 5, error: expect.stringContaining('expected a JSON object') });
    expect(out[4]).toEqual({ line: 6, error: 'field "expansion": expected a string, got nothing (field missing)' });
    expect(out[5]).toMatchObject({ ...continuation, reward: { hard_fail: true, reward: 0 } });
  });

  test('reads stdin with "-" and exits 0 when every row scored', () => {
    const { code, out } = qmdScore(['-'], `${JSON.stringify(good)}\n\n${JSON.stringify(continuation)}\n`);
    expect(code).toBe(0);
    expect(out.map((row) => row.entities)).toEqual([['docker', 'ubuntu'], []]);
  });

  test('a missing file is an error naming the file', () => {
    const missing = join(dir, 'absent.jsonl');
    const { code, out, stderr } = qmdScore([missing]);
    expect(code).toBe(1);
    expect(out).toEqual([]);
    expect(stderr).toContain(missing);
  });
});
