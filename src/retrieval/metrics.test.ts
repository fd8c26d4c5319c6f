import { describe, expect, it } from 'vitest';
import { isExpectedNote, rankOf, summarizeRanks } from './metrics.ts';

describe('retrieval metrics', () => {
  it('counts hit@1/3/5 and MRR from ranks, a miss as 0', () => {
    const s = summarizeRanks([1, 2, 4, null]);
    expect(s).toEqual({ queries: 4, hit1: 0.25, hit3: 0.5, hit5: 0.75, mrr: (1 + 1 / 2 + 1 / 4) / 4 });
    expect(summarizeRanks([6, 20])).toMatchObject({ hit1: 0, hit3: 0, hit5: 0, mrr: (1 / 6 + 1 / 20) / 2 });
    expect(summarizeRanks([])).toEqual({ queries: 0, hit1: 0, hit3: 0, hit5: 0, mrr: 0 });
  });

  it('matches notes as QMD does: the path contains the expected name, case-insensitively', () => {
    expect(isExpectedNote('docs/API-Design-Principles.md', 'api-design')).toBe(true);
    expect(isExpectedNote('docs/startup-fundraising-memo.md', 'Fundraising')).toBe(true);
    expect(isExpectedNote('docs/remote-work-policy.md', 'api-design')).toBe(false);
    expect(rankOf(['docs/a.md', 'docs/b-fundraising.md', 'docs/fundraising-2.md'], 'fundraising')).toBe(2);
    expect(rankOf(['docs/a.md'], 'fundraising')).toBeNull();
  });
});
