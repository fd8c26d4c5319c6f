// The generation half's pure parts: the prompt order of a step, QMD's scores as a reward (a hard
// fail and a refused pair are 0), and whole-vocabulary sampling without candidate lists, which must
// pick what the candidate walk picks for the same draw.
import { describe, expect, it } from 'vitest';
import { mulberry32, shuffled } from '../random.ts';
import { MAX_QUERY_CHARS } from '../scoring/index.ts';
import { qmdScore, stepPrompts, weightedReward } from './grpo-rollout.ts';
import { candidates, defaultSampling, sampleToken } from './sampling.ts';

describe('stepPrompts', () => {
  it("takes each step's prompts from a stream of seeded epoch orders, across the epoch's end", () => {
    const steps = [0, 1, 2, 3].map((s) => stepPrompts(5, 3, s, 42));
    const stream = [...shuffled(5, 42), ...shuffled(5, 43), ...shuffled(5, 44)];
    expect(steps.flat()).toEqual(stream.slice(0, 12));
    expect(new Set(steps.flat().slice(0, 5)).size).toBe(5);
  });
});

describe('QMD scores as a reward', () => {
  const w = { reward: 1, eval: 0.5 };
  it('weights the two profiles; a format hard fail is 0 whatever the eval profile says', () => {
    const good = qmdScore('auth config', 'lex: auth config\nlex: authentication settings\nvec: how to configure authentication');
    expect(good.hardFail).toBe(false);
    expect(weightedReward(good, w)).toBeCloseTo(good.rewardScore! + 0.5 * (good.evalScore! / 100), 12);
    const prose = qmdScore('auth config', 'Here is how you configure authentication in detail.');
    expect(prose).toMatchObject({ rewardScore: 0, hardFail: true });
    expect(weightedReward(prose, w)).toBe(0);
  });

  it('a pair the scorers refuse is a hard fail with no scores, and says why', () => {
    const refused = qmdScore('q'.repeat(MAX_QUERY_CHARS + 1), 'lex: q');
    expect(refused).toMatchObject({ rewardScore: null, evalScore: null, hardFail: true });
    expect(refused.refused).toMatch(/query/);
    expect(weightedReward(refused, w)).toBe(0);
  });
});

describe('sampleToken over the whole vocabulary', () => {
  it('picks the token the candidate walk picks, draw for draw', () => {
    const random = mulberry32(5);
    const logits = Float32Array.from({ length: 4096 }, () => 6 * random() - 3);
    const o = { ...defaultSampling, temperature: 0.7 };
    const walk = (u: number) => {
      const { ids, probs } = candidates(logits, o);
      for (let i = 0; i < ids.length; i++) if ((u -= probs[i]!) < 0) return ids[i]!;
      return ids.at(-1)!;
    };
    const [fast, slow] = [mulberry32(9), mulberry32(9)];
    for (let k = 0; k < 200; k++) expect(sampleToken(logits, o, fast)).toBe(walk(slow()));
  });
});
