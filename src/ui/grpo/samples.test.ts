import { describe, expect, it } from 'vitest';
import type { GrpoCompletion, GrpoGroup } from '../../engine/grpo-protocol.ts';
import { filterSamples, NO_FILTER, readBound, sampleRows } from './samples.ts';

const completion = (text: string, reward: number, hardFail = false): GrpoCompletion => ({
  text, reward, rewardScore: hardFail ? 0 : reward, evalScore: reward * 100, hardFail, advantage: reward - 0.5, kl: 0.01, tokens: 5, truncated: false,
});

const groups: GrpoGroup[] = [
  { query: 'nginx proxy', completions: [completion('lex: nginx', 0.9), completion('Sure! Here is', 0, true)] },
  { query: 'git rebase', completions: [completion('lex: git rebase', 0.6), completion('vec: rebase onto main', 0.4)] },
];

describe('the sample table rows', () => {
  it('list every completion of every group, with its group, place and query', () => {
    const rows = sampleRows(groups);
    expect(rows.map((r) => [r.group, r.index, r.query, r.text])).toEqual([
      [0, 0, 'nginx proxy', 'lex: nginx'],
      [0, 1, 'nginx proxy', 'Sure! Here is'],
      [1, 0, 'git rebase', 'lex: git rebase'],
      [1, 1, 'git rebase', 'vec: rebase onto main'],
    ]);
    expect(rows[1]).toMatchObject({ reward: 0, hardFail: true, advantage: -0.5, kl: 0.01, tokens: 5, truncated: false });
  });

  it('filter by a reward range (bounds included) and by hard fails', () => {
    const rows = sampleRows(groups);
    expect(filterSamples(rows, NO_FILTER)).toHaveLength(4);
    expect(filterSamples(rows, { ...NO_FILTER, min: 0.6 }).map((r) => r.text)).toEqual(['lex: nginx', 'lex: git rebase']);
    expect(filterSamples(rows, { ...NO_FILTER, max: 0.4 }).map((r) => r.text)).toEqual(['Sure! Here is', 'vec: rebase onto main']);
    expect(filterSamples(rows, { min: 0.3, max: 0.7, hardFailsOnly: false }).map((r) => r.reward)).toEqual([0.6, 0.4]);
    expect(filterSamples(rows, { ...NO_FILTER, hardFailsOnly: true }).map((r) => r.text)).toEqual(['Sure! Here is']);
    expect(filterSamples(rows, { min: 0.5, max: null, hardFailsOnly: true })).toEqual([]);
  });

  it('take an empty or unreadable bound as none', () => {
    expect(readBound(0.25)).toBe(0.25);
    expect(readBound(0)).toBe(0);
    for (const none of [null, undefined, '', Number.NaN, Infinity]) expect(readBound(none)).toBeNull();
  });
});
