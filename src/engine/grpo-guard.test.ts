// The drift guard's rules on hand-made steps: the hard-fail rate over a window of groups that spans
// steps (judged once the window is full), the KL bound, and the checkpoint a firing step goes back to.
import { describe, expect, it } from 'vitest';
import { guardVerdict, GuardSnapshots } from './grpo-guard.ts';
import type { GrpoGroup, GrpoStep } from './grpo-protocol.ts';

const group = (query: string, hardFails: number, of = 4): GrpoGroup => ({
  query,
  completions: Array.from({ length: of }, (_, i) => ({ text: `c${i}`, reward: 0, rewardScore: 0, evalScore: 0, hardFail: i < hardFails, advantage: 0, kl: 0, tokens: 1, truncated: false })),
});
const step = (n: number, groups: GrpoGroup[], kl = 0): GrpoStep => ({ step: n, of: 10, loss: 0, lr: 0, gradNorm: 0, reward: 0, rewardScore: 0, evalScore: 0, hardFailRate: 0, kl, completionTokens: 1, zeroSpread: 0, generationSeconds: 0, updateSeconds: 0, seconds: 0, groups });
const guard = { maxHardFailRate: 0.25, windowGroups: 3, maxKl: 1 };

describe('guardVerdict', () => {
  it('judges the last windowGroups groups across steps, once there are that many', () => {
    const a = step(1, [group('a', 4), group('b', 4)]);
    expect(guardVerdict([a], guard)).toBeNull(); // 2 of 3 groups: not judged yet
    // Window: b (4 of 4), c (0), d (0) = 4 of 12 = 33 % > 25 %.
    const b = step(2, [group('c', 0), group('d', 0)]);
    const verdict = guardVerdict([a, b], guard)!;
    expect(verdict.rule).toBe('hard-fail-rate');
    expect(verdict.groups.map((g) => g.query)).toEqual(['b', 'c', 'd']);
    expect(verdict.message).toBe("step 2: 33.3 % of the completions of the last 3 groups hard-failed the format, above the drift guard's max_hard_fail_rate 25.0 %");
    // 3 of 12 = 25 %: not above the bound.
    expect(guardVerdict([a, step(2, [group('c', 0), group('d', 0)]), step(3, [group('e', 3)])], guard)).toBeNull();
  });

  it("fires on the step's mean KL above max_kl, carrying that step's groups", () => {
    const s = step(4, [group('a', 0)], 1.5);
    expect(guardVerdict([s], { ...guard, windowGroups: 1 })).toMatchObject({ rule: 'kl', step: 4, groups: s.groups, message: "step 4: the mean KL to the SFT model is 1.500, above the drift guard's max_kl 1" });
    expect(guardVerdict([step(4, [group('a', 0)], 1)], { ...guard, windowGroups: 1 })).toBeNull();
  });
});

describe('GuardSnapshots', () => {
  const state = (n: number) => ({ step: n, tensors: {} });
  it('goes back to the last state at least two steps before the firing step, the first when none is', () => {
    const s = new GuardSnapshots();
    s.add(state(0));
    expect(s.target(1).step).toBe(0);
    for (const n of [1, 2, 3]) {
      s.add(state(n));
      s.prune(n);
    }
    expect(s.target(4).step).toBe(2);
    expect(s.target(5).step).toBe(3);
    // Pruned: step 0 and 1 are gone (no later firing goes back that far); the earliest kept is 2.
    expect(s.target(2).step).toBe(2);
  });
});
