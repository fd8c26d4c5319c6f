import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openLab, type EvalResult, type LabDatabase } from '../data/db.ts';
import { sharedFile } from '../testing/shared.ts';
import { makeResult, type NewResult } from './result.ts';
import { deleteResult, getResult, listResults, renameResult, saveResult } from './store.ts';

const fixture = sharedFile('fixtures/scoring-reference.jsonl');
interface ReferenceCase {
  source: string;
  query: string;
  expansion: string;
  eval: unknown;
  reward: unknown;
}
const cases: ReferenceCase[] = fixture
  ? readFileSync(fixture, 'utf8').trim().split('\n').map((line) => JSON.parse(line))
  : [];

function newResult(name: string, pairs: NewResult['pairs']): NewResult {
  return {
    name,
    model: { base: 'Qwen/Qwen3-0.6B', adapter: 'tobil/qmd-query-expansion-0.6B-v4' },
    profile: 'eval',
    settings: { temperature: 0.7, topK: 0, topP: 1, maxNewTokens: 200, seed: 42, samplesPerQuery: 1 },
    pairs,
    origin: 'run',
  };
}

describe.skipIf(!fixture)('makeResult', () => {
  it('scores every pair as the Python reference does (both profiles)', () => {
    const picked = [...cases.filter((c) => c.source === 'synthetic').slice(0, 40), ...cases.filter((c) => c.source === 'evaluation_grpo.json')];
    const result = makeResult(newResult('reference', picked));
    expect(result.items).toHaveLength(picked.length);
    result.items.forEach((item, i) => {
      expect(item.query).toBe(picked[i].query);
      expect(item.expansion).toBe(picked[i].expansion);
      expect(item.eval).toEqual(picked[i].eval);
      expect(item.reward).toEqual(picked[i].reward);
    });
  });
});

describe('results store', () => {
  let db: LabDatabase;
  let n = 0;
  beforeEach(async () => {
    db = await openLab(`store-test-${n++}`);
  });
  afterEach(() => db.close());

  const pairs = [
    { query: 'how to configure authentication', expansion: 'lex: auth config\nvec: how to configure user authentication' },
    { query: 'rust lifetimes', expansion: 'Sure! Here are some expansions' },
  ];
  const at = (created: number, name: string): EvalResult => ({ ...makeResult(newResult(name, pairs)), created });

  it('saves, reads back, lists newest first, renames and deletes', async () => {
    const old = at(1_000, 'old');
    const mid = at(2_000, 'mid');
    const recent = at(3_000, 'recent');
    for (const r of [mid, old, recent]) await saveResult(db, r);

    expect(await getResult(db, mid.id)).toEqual(mid);
    expect((await listResults(db)).map((r) => r.name)).toEqual(['recent', 'mid', 'old']);

    const renamed = await renameResult(db, old.id, '  baseline  ');
    expect(renamed.name).toBe('baseline');
    expect(await getResult(db, old.id)).toEqual({ ...old, name: 'baseline' });

    await deleteResult(db, mid.id);
    expect(await getResult(db, mid.id)).toBeUndefined();
    expect((await listResults(db)).map((r) => r.name)).toEqual(['recent', 'baseline']);
  });

  it('refuses to rename a missing result or to an empty name', async () => {
    const r = at(1, 'x');
    await saveResult(db, r);
    await expect(renameResult(db, 'nope', 'y')).rejects.toThrow(/rename result nope: no such result/);
    await expect(renameResult(db, r.id, '   ')).rejects.toThrow(/expected a non-empty name/);
    expect((await getResult(db, r.id))?.name).toBe('x');
  });

  it('keeps the recomputed scores through a save', async () => {
    const r = at(5, 'scored');
    await saveResult(db, r);
    const back = await getResult(db, r.id);
    expect(back?.items[0].eval.parsed.lex).toEqual(['auth config']);
    expect(back?.items[1].eval.is_continuation).toBe(true);
    expect(back?.items[1].reward).toEqual({ hard_fail: true, reward: 0 });
  });
});
