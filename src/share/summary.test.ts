import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { RewardScore } from '../scoring/index.ts';
import { sharedFile } from '../testing/shared.ts';
import { makeResult, type ExpansionPair } from './result.ts';
import { compareResults, formatDelta, formatPercentage, formatReward, outcomeOf, RATINGS, summarizeResult } from './summary.ts';

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
    expect(formatReward(summary.reward)).toBe('–');
    expect(formatReward(0.91666)).toBe('0.917');
  });

  it('compares two results query by query (this − other)', () => {
    const v4 = from('evaluation_v4.json');
    const big = from('evaluation_1.7B.json');
    const comparison = compareResults(resultOf('v4', v4), resultOf('1.7B', big));
    expect(comparison.onlyInA).toEqual([]);
    expect(comparison.onlyInB).toEqual([]);
    expect(comparison.matched.map((m) => m.query)).toEqual(v4.map((c) => c.query));
    comparison.matched.forEach((m) => {
      const a = v4.find((c) => c.query === m.query)!;
      const b = big.find((c) => c.query === m.query)!;
      expect(m.evalDelta).toBeCloseTo(a.eval.percentage - b.eval.percentage, 12);
      expect(m.rewardDelta).toBeCloseTo(a.reward.reward - b.reward.reward, 12);
    });
  });

  it('counts wins, ties and losses per profile from the reference scores, and the mean delta', () => {
    const v4 = from('evaluation_v4.json');
    for (const source of ['evaluation_1.7B.json', 'evaluation_v4_grpo.json', 'evaluation_0.6B.json']) {
      const other = from(source);
      const comparison = compareResults(resultOf('v4', v4), resultOf(source, other));
      const pairs = v4.map((a) => [a, other.find((b) => b.query === a.query)!] as const);
      const count = (score: (c: ReferenceCase) => number) => ({
        wins: pairs.filter(([a, b]) => score(a) > score(b)).length,
        ties: pairs.filter(([a, b]) => score(a) === score(b)).length,
        losses: pairs.filter(([a, b]) => score(a) < score(b)).length,
      });
      expect(comparison.tally.eval, source).toEqual(count((c) => c.eval.percentage));
      expect(comparison.tally.reward, source).toEqual(count((c) => c.reward.reward));
      expect(comparison.meanDelta.eval).toBeCloseTo(mean(pairs.map(([a, b]) => a.eval.percentage - b.eval.percentage)), 9);
      expect(comparison.meanDelta.reward).toBeCloseTo(mean(pairs.map(([a, b]) => a.reward.reward - b.reward.reward)), 9);
    }
    // The two sides swapped: every win becomes a loss.
    const grpo = from('evaluation_v4_grpo.json');
    const forward = compareResults(resultOf('v4', v4), resultOf('grpo', grpo)).tally.eval;
    const backward = compareResults(resultOf('grpo', grpo), resultOf('v4', v4)).tally.eval;
    expect(backward).toEqual({ wins: forward.losses, ties: forward.ties, losses: forward.wins });
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
    expect(first.evalDelta).toBeCloseTo(v4[0].eval.percentage - grpo[0].eval.percentage, 12);
    expect(last.rewardDelta).toBeCloseTo(grpo[0].reward.reward - v4[0].reward.reward, 12);
    expect(comparison.matched[1].evalDelta).toBeCloseTo(v4[5].eval.percentage - grpo[5].eval.percentage, 12);
    const counted = comparison.tally.eval.wins + comparison.tally.eval.ties + comparison.tally.eval.losses;
    expect(counted).toBe(comparison.matched.length);
  });
});

describe('comparison from the side of the result being looked at', () => {
  const good = { query: 'how to configure authentication', expansion: 'lex: authentication config\nlex: auth settings setup\nvec: how to set up user authentication in an app\nvec: configuring login and access control\nhyde: To configure authentication, set the auth provider and secret in the config file, then restart the server.' };
  const bad = { query: good.query, expansion: 'Sure! Here are some expansions' };

  it('a result far better than the other shows a positive delta and a win (the issue: "−99.0" in red)', () => {
    const comparison = compareResults(resultOf('this', [good]), resultOf('other', [bad]));
    const [row] = comparison.matched;
    expect(row.a.eval.percentage).toBeGreaterThan(90);
    expect(row.b.eval.percentage).toBe(0);
    expect(row.evalDelta).toBe(row.a.eval.percentage);
    expect(row.outcome).toEqual({ eval: 'win', reward: 'win' });
    expect(formatDelta(row.evalDelta, 1)).toBe(`+${row.a.eval.percentage.toFixed(1)}`);
    expect(comparison.tally.eval).toEqual({ wins: 1, ties: 0, losses: 0 });
    const reversed = compareResults(resultOf('other', [bad]), resultOf('this', [good])).matched[0];
    expect(reversed.outcome.eval).toBe('loss');
    expect(formatDelta(reversed.evalDelta, 1)).toBe(`−${row.a.eval.percentage.toFixed(1)}`);
  });

  it('the same expansion ties, and ties print without a sign', () => {
    const comparison = compareResults(resultOf('this', [good]), resultOf('other', [good]));
    expect(comparison.matched[0].outcome).toEqual({ eval: 'tie', reward: 'tie' });
    expect(comparison.tally.reward).toEqual({ wins: 0, ties: 1, losses: 0 });
    expect(formatDelta(comparison.matched[0].rewardDelta, 3)).toBe('0.000');
    expect(outcomeOf(1e-12)).toBe('tie');
    expect(outcomeOf(0.001)).toBe('win');
    expect(outcomeOf(-0.001)).toBe('loss');
  });

  it('has no mean delta when nothing matched', () => {
    const comparison = compareResults(resultOf('this', [good]), resultOf('other', [{ ...bad, query: 'another query' }]));
    expect(comparison.matched).toEqual([]);
    expect(comparison.meanDelta).toEqual({ eval: null, reward: null });
    expect(comparison.tally.eval).toEqual({ wins: 0, ties: 0, losses: 0 });
  });
});
