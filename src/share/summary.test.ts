import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { RewardScore } from '../scoring/index.ts';
import { sharedFile } from '../testing/shared.ts';
import { makeResult, type ExpansionPair } from './result.ts';
import { compareResults, formatPercentage, RATINGS, summarizeResult } from './summary.ts';

const fixture = sharedFile('fixtures/scoring-reference.jsonl');
interface ReferenceCase extends ExpansionPair {
  source: string;
  eval: { percentage: number; rating: string };
  reward: RewardScore;
}
const cases: ReferenceCase[] = fixture
  ? readFileSync(fixture, 'utf8').trim().split('\n').map((line) => JSON.parse(line))
  : [];
const from = (source: string) => cases.filter((c) => c.source === source);

function resultOf(name: string, pairs: ExpansionPair[]) {
  return makeResult({ name, model: { base: name, adapter: null }, profile: 'eval', settings: null, pairs, origin: 'import' });
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

describe.skipIf(!fixture)('summary and comparison against the Python reference numbers', () => {
  it('summarizes a result: means, rating counts, count', () => {
    for (const source of ['evaluation_v4.json', 'evaluation_1.7B.json', 'evaluation_v4_grpo.json', 'evaluation_0.6B.json']) {
      const reference = from(source);
      const summary = summarizeResult(resultOf(source, reference));
      expect(summary.count).toBe(21);
      expect(summary.evalPercentage).toBeCloseTo(mean(reference.map((c) => c.eval.percentage)), 12);
      expect(summary.reward).toBeCloseTo(mean(reference.map((c) => c.reward.reward)), 12);
      for (const rating of RATINGS) {
        expect(summary.ratings[rating], `${source} ${rating}`).toBe(reference.filter((c) => c.eval.rating === rating).length);
      }
    }
    expect(formatPercentage(summarizeResult(resultOf('v4', from('evaluation_v4.json'))).evalPercentage)).toBe('98.8 %');
  });

  it('has no averages without items', () => {
    const summary = summarizeResult(resultOf('empty', []));
    expect(summary).toMatchObject({ count: 0, evalPercentage: null, reward: null });
    expect(formatPercentage(summary.evalPercentage)).toBe('–');
  });

  it('compares two results query by query (b − a)', () => {
    const v4 = from('evaluation_v4.json');
    const big = from('evaluation_1.7B.json');
    const comparison = compareResults(resultOf('v4', v4), resultOf('1.7B', big));
    expect(comparison.onlyInA).toEqual([]);
    expect(comparison.onlyInB).toEqual([]);
    expect(comparison.matched.map((m) => m.query)).toEqual(v4.map((c) => c.query));
    comparison.matched.forEach((m) => {
      const a = v4.find((c) => c.query === m.query)!;
      const b = big.find((c) => c.query === m.query)!;
      expect(m.evalDelta).toBeCloseTo(b.eval.percentage - a.eval.percentage, 12);
      expect(m.rewardDelta).toBeCloseTo(b.reward.reward - a.reward.reward, 12);
    });
  });

  it('lists queries found on one side only and pairs repeated queries in order', () => {
    const v4 = from('evaluation_v4.json');
    const grpo = from('evaluation_v4_grpo.json');
    // Query 0 twice on each side: a has v4's sample then grpo's, b has grpo's then v4's.
    const a = resultOf('a', [...v4.slice(0, 10), grpo[0]]);
    const b = resultOf('b', [grpo[0], ...grpo.slice(5), v4[0]]);
    const comparison = compareResults(a, b);
    expect(comparison.onlyInA.map((i) => i.query)).toEqual(v4.slice(1, 5).map((c) => c.query));
    expect(comparison.onlyInB.map((i) => i.query)).toEqual(grpo.slice(10).map((c) => c.query));
    expect(comparison.matched.map((m) => m.query)).toEqual([v4[0].query, ...v4.slice(5, 10).map((c) => c.query), v4[0].query]);
    const first = comparison.matched[0];
    const last = comparison.matched[comparison.matched.length - 1];
    expect([first.a.expansion, first.b.expansion]).toEqual([v4[0].expansion, grpo[0].expansion]);
    expect([last.a.expansion, last.b.expansion]).toEqual([grpo[0].expansion, v4[0].expansion]);
    expect(first.evalDelta).toBeCloseTo(grpo[0].eval.percentage - v4[0].eval.percentage, 12);
    expect(last.rewardDelta).toBeCloseTo(v4[0].reward.reward - grpo[0].reward.reward, 12);
    expect(comparison.matched[1].evalDelta).toBeCloseTo(grpo[5].eval.percentage - v4[5].eval.percentage, 12);
  });
});
