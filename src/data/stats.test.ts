import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { sharedFile } from '../testing/shared.ts';
import { openLab } from './db.ts';
import { importDataset } from './import.ts';
import { auditIndexes, datasetStats, worstRows } from './stats.ts';

let dbCount = 0;
const freshDb = () => openLab(`stats-test-${++dbCount}-${Date.now()}`);
const jsonlFile = (rows: { input: string; output: string }[]) => new File([rows.map((r) => JSON.stringify(r)).join('\n')], 'set.jsonl');

const HAND_MADE = [
  {
    input: 'auth',
    output:
      'lex: auth setup\nlex: authentication config\nvec: how to configure user authentication\nhyde: Authentication is configured in the settings file of the application server.',
  },
  { input: 'docker compose networking', output: 'lex: docker network\nvec: how containers communicate in docker compose\nnot a valid line' },
  { input: 'git rebase', output: 'Sure! Here is an expansion' },
  { input: 'what is dependency injection', output: 'vec: what dependency injection means in software design' },
];

describe('datasetStats on a hand-made set', () => {
  it('counts short queries, lengths and lex/vec/hyde lines', async () => {
    const db = await freshDb();
    const { meta } = await importDataset(db, jsonlFile(HAND_MADE));
    const progress: number[] = [];
    const stats = await datasetStats(db, meta.id, { onProgress: (p) => progress.push(p.rows) });
    expect(stats.rows).toBe(4);
    expect(stats.shortQueries).toBe(2); // "auth", "git rebase"
    expect(stats.shortQueryShare).toBe(0.5);
    expect(stats.meanQueryWords).toBe((1 + 3 + 2 + 4) / 4);
    expect(stats.meanQueryChars).toBe((4 + 25 + 10 + 28) / 4);
    expect(stats.meanCompletionChars).toBe((167 + 86 + 26 + 55) / 4);
    expect(stats.lines).toEqual({ lex: 3, vec: 3, hyde: 1, invalid: 2 });
    expect(stats.reward.hardFails).toBe(1);
    expect([...stats.hardFail]).toEqual([0, 0, 1, 0]);
    expect(stats.reward.histogram[0]).toBeGreaterThanOrEqual(1);
    expect(stats.reward.histogram.reduce((a, b) => a + b)).toBe(4);
    expect(progress.at(-1)).toBe(4);
    expect(auditIndexes(stats, { hardFailOnly: true })).toEqual([2]);
    const worst = await worstRows(db, meta.id, stats, { hardFailOnly: true });
    expect(worst.total).toBe(1);
    expect(worst.rows[0].row.query).toBe('git rebase');
    expect(worst.rows[0].score).toEqual({ hard_fail: true, reward: 0 });
  });
});

describe('reward distribution against the Python reference scores', () => {
  // Rows whose completions were scored by the Python reward function (spec fixtures).
  it('histogram, mean, hard fails and worst rows match the reference rewards', async () => {
    const path = sharedFile('fixtures/scoring-reference.jsonl');
    if (!path) return;
    const all = readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { query: string; expansion: string; reward: { reward: number; hard_fail?: true } })
      .filter((c) => c.query.trim() !== '' && c.query === c.query.trim() && c.expansion.trim() !== '');
    const cases = [...new Map(all.map((c) => [`${c.query}\0${c.expansion}`, c])).values()].slice(0, 300);
    const db = await freshDb();
    const { meta } = await importDataset(db, jsonlFile(cases.map((c) => ({ input: c.query, output: c.expansion }))));
    expect(meta.rows).toBe(cases.length);
    const stats = await datasetStats(db, meta.id);

    const rewards = cases.map((c) => c.reward.reward);
    const histogram = new Array(10).fill(0);
    for (const r of rewards) histogram[Math.min(9, Math.floor(Math.round(r * 1e9) / 1e8))]++;
    expect(stats.reward.histogram).toEqual(histogram);
    expect(stats.reward.mean).toBeCloseTo(rewards.reduce((a, b) => a + b) / rewards.length, 12);
    expect(stats.reward.hardFails).toBe(cases.filter((c) => c.reward.hard_fail).length);
    expect(stats.reward.hardFails).toBeGreaterThan(0);

    const below = rewards.map((r, i) => [r, i]).filter(([r]) => r < 0.5).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, i]) => i);
    expect(auditIndexes(stats, { below: 0.5 })).toEqual(below);
    const page = await worstRows(db, meta.id, stats, { below: 0.5, offset: 2, limit: 3 });
    expect(page.total).toBe(below.length);
    expect(page.rows.map((r) => r.row.query)).toEqual(below.slice(2, 5).map((i) => cases[i].query));
  });
});

describe('datasetStats on rows beyond the scoring limits', () => {
  it('counts them as refused hard fails with the reason, and audits the rest', async () => {
    const db = await freshDb();
    const { meta } = await importDataset(db, jsonlFile(HAND_MADE.slice(0, 2)));
    // Stored as an older import (before size checks) could have stored it.
    const huge = 'lex: a\n'.repeat(10_000);
    await db.put('rows', { datasetId: meta.id, index: 1, line: 2, format: 'input_output', query: 'q', completion: huge, original: null });
    const stats = await datasetStats(db, meta.id);
    expect(stats.reward.refused).toBe(1);
    expect(stats.reward.hardFails).toBe(1);
    expect([...stats.hardFail]).toEqual([0, 1]);
    const worst = await worstRows(db, meta.id, stats, { hardFailOnly: true });
    expect(worst.rows[0]!.refusal).toMatch(/expansion is 70,000 characters; the scorers accept at most 32,768/);
  });
});
