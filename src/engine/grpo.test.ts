// grpo.ts against a float64 transcription of TRL 1.13's tensor code (padded [B, T] arrays, a mask,
// ρ = exp(logp − logp_old) with its clip, the KL times ρ under use_bias_correction_kl, per
// micro-batch aggregation, summed over the window):
// equal losses at ρ = 1, and weights equal to −d loss/d logp by central differences, for every
// loss_type; advantages for every scale_rewards, with values worked by hand.
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../random.ts';
import { advantages, GRPO_LOSS_TYPES, grpoTerms, SCALE_REWARDS, tokenKl, type GrpoLossType, type GrpoObjective, type GrpoSequence, type ScaleRewards } from './grpo.ts';

/** TRL's advantage block (sum_then_normalize, one reward function), written over flat tensors. */
function trlAdvantages(rewards: number[][], scale: ScaleRewards): number[][] {
  const G = rewards[0]!.length;
  const flat = rewards.flat();
  const nanstd = (xs: number[]) => {
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    const variance = xs.reduce((a, x) => a + (x - m) ** 2, 0) / xs.length;
    return Math.sqrt(variance * (xs.length / (xs.length - 1))); // Bessel's correction
  };
  const groupMean = flat.map((_, k) => rewards[Math.floor(k / G)]!.reduce((a, b) => a + b, 0) / G);
  const std = scale === 'batch' ? flat.map(() => nanstd(flat)) : flat.map((_, k) => nanstd(rewards[Math.floor(k / G)]!));
  const adv = flat.map((r, k) => (scale === 'none' ? r - groupMean[k]! : (r - groupMean[k]!) / (std[k]! + 1e-4)));
  return rewards.map((_, p) => adv.slice(p * G, (p + 1) * G));
}

interface Trl {
  lossType: GrpoLossType;
  beta: number;
  epsilonLow: number;
  epsilonHigh: number;
  maxCompletionLength: number;
  perDevice: number;
  useBiasCorrectionKl: boolean;
}

/** TRL `_compute_loss` per micro-batch (rows `start..`), over right-padded [B, T] arrays, the window's losses summed. */
function trlLoss(seqs: GrpoSequence[], logp: number[][], old: number[][], c: Trl): number {
  const T = Math.max(...seqs.map((s) => s.logp.length));
  const steps = Math.ceil(seqs.length / c.perDevice);
  const numItems = seqs.reduce((n, s) => n + (s.scored ? s.logp.length : 0), 0);
  let window = 0;
  for (let start = 0; start < seqs.length; start += c.perDevice) {
    const rows = seqs.slice(start, start + c.perDevice).map((s, j) => {
      const i = start + j;
      const mask = Array.from({ length: T }, (_, t): number => (t < s.logp.length && s.scored ? 1 : 0));
      const perToken = Array.from({ length: T }, (_, t) => {
        if (t >= s.logp.length) return 0;
        const coef1 = Math.exp(logp[i]![t]! - old[i]![t]!);
        const coef2 = Math.min(Math.max(coef1, 1 - c.epsilonLow), 1 + c.epsilonHigh);
        const kl = (Math.exp(s.ref[t]! - logp[i]![t]!) - (s.ref[t]! - logp[i]![t]!) - 1) * (c.useBiasCorrectionKl ? coef1 : 1);
        return -Math.min(coef1 * s.advantage, coef2 * s.advantage) + c.beta * kl;
      });
      return { mask, perToken };
    });
    const masked = (r: (typeof rows)[number]) => r.perToken.reduce((a, l, t) => a + l * r.mask[t]!, 0);
    const count = (r: (typeof rows)[number]) => r.mask.reduce((a, b) => a + b, 0);
    let loss: number;
    if (c.lossType === 'grpo') loss = rows.reduce((a, r) => a + masked(r) / Math.max(count(r), 1), 0) / rows.length / steps;
    else if (c.lossType === 'bnpo') loss = rows.reduce((a, r) => a + masked(r), 0) / Math.max(rows.reduce((a, r) => a + count(r), 0), 1) / steps;
    else if (c.lossType === 'dr_grpo') loss = rows.reduce((a, r) => a + masked(r), 0) / (rows.length * c.maxCompletionLength) / steps;
    // dapo: num_items_in_batch / num_processes × GA / steps_per_generation, with GA = steps_per_generation.
    else loss = rows.reduce((a, r) => a + masked(r), 0) / Math.max(numItems, 1);
    window += loss;
  }
  return window;
}

/** A batch of P prompts × G generations with random log-probabilities, lengths and rewards; one completion masked. */
function batch(seed: number, P: number, G: number, scale: ScaleRewards): { seqs: GrpoSequence[]; rewards: number[][] } {
  const rand = mulberry32(seed);
  const rewards = Array.from({ length: P }, () => Array.from({ length: G }, () => Math.round(rand() * 4) / 4));
  const adv = advantages(rewards, scale).flat();
  const seqs = adv.map((advantage, k) => {
    const length = 1 + Math.floor(rand() * 7);
    const logp = Array.from({ length }, () => -0.1 - 3 * rand());
    const ref = logp.map((l) => l + (rand() - 0.5));
    return { advantage, logp, ref, scored: k !== 2 };
  });
  return { seqs, rewards };
}

describe('GRPO advantages', () => {
  it('match hand-worked values: group mean, unbiased group or batch std, + 1e-4', () => {
    // Group [1, 0, 0, 0]: mean 0.25, unbiased variance (0.5625 + 3·0.0625)/3 = 0.25, std 0.5
    // (the biased std would be √0.1875 = 0.433).
    const [group] = advantages([[1, 0, 0, 0]], 'group');
    expect(group![0]).toBeCloseTo(0.75 / 0.5001, 12);
    expect(group![1]).toBeCloseTo(-0.25 / 0.5001, 12);
    // Batch [[1, 0], [3, 3]]: group means 0.5 and 3; batch std of [1, 0, 3, 3] (mean 1.75) = √(8.75/3).
    const batchStd = Math.sqrt((0.5625 + 3.0625 + 1.5625 + 1.5625) / 3);
    expect(advantages([[1, 0], [3, 3]], 'batch')).toEqual([[0.5 / (batchStd + 1e-4), -0.5 / (batchStd + 1e-4)], [0, 0]]);
    expect(advantages([[1, 0], [3, 3]], 'none')).toEqual([[0.5, -0.5], [0, 0]]);
    // A group with no spread gives no gradient: all zeros, not NaN.
    expect(advantages([[2, 2, 2]], 'group')).toEqual([[0, 0, 0]]);
  });

  for (const scale of SCALE_REWARDS) {
    it(`scale_rewards ${scale}: equal TRL's code to 1e-12`, () => {
      const rewards = batch(7, 3, 4, scale).rewards;
      const ours = advantages(rewards, scale).flat();
      trlAdvantages(rewards, scale).flat().forEach((a, k) => expect(ours[k]).toBeCloseTo(a, 12));
    });
  }
});

describe('GRPO loss and token weights', () => {
  it('KL is k3: 0 where the policy is the reference, positive elsewhere', () => {
    expect(tokenKl(-1.3, -1.3)).toBe(0);
    expect(tokenKl(-1, -2)).toBeCloseTo(Math.exp(-1) + 1 - 1, 15);
    expect(tokenKl(-2, -1)).toBeGreaterThan(0);
  });

  for (const lossType of GRPO_LOSS_TYPES) {
    for (const [scale, biasCorrectionKl] of SCALE_REWARDS.flatMap((s) => [[s, true], [s, false]] as const)) {
      it(`${lossType}, scale_rewards ${scale}, use_bias_correction_kl ${biasCorrectionKl}: loss equals TRL's at ρ = 1 and weights are −d loss/d logp`, () => {
        const { seqs } = batch(11, 2, 4, scale);
        const o: GrpoObjective = { lossType, beta: 0.3, biasCorrectionKl, maxCompletionLength: 9, microBatch: 3 };
        const trl: Trl = { lossType, beta: o.beta, epsilonLow: 0.2, epsilonHigh: 0.28, maxCompletionLength: 9, perDevice: 3, useBiasCorrectionKl: biasCorrectionKl };
        const terms = grpoTerms(seqs, o);
        const logp = seqs.map((s) => [...s.logp]);
        expect(terms.loss).toBeCloseTo(trlLoss(seqs, logp, logp, trl), 12);
        // Central differences of TRL's loss in one logp, the old policy held (what autograd differentiates).
        const h = 1e-6;
        let checked = 0;
        seqs.forEach((s, i) =>
          s.logp.forEach((_, t) => {
            const at = (d: number) => trlLoss(seqs, logp.map((row, j) => (j === i ? row.map((v, u) => (u === t ? v + d : v)) : row)), logp, trl);
            const numeric = (at(h) - at(-h)) / (2 * h);
            expect(-terms.weights[i]![t]!).toBeCloseTo(numeric, 8);
            checked++;
          }),
        );
        expect(checked).toBe(seqs.reduce((n, s) => n + s.logp.length, 0));
        // The masked completion carries no weight, but its KL is still reported.
        expect(terms.weights[2]!.every((w) => w === 0)).toBe(true);
        expect(terms.kl[2]).toBeGreaterThan(0);
        expect(terms.scoredTokens).toBe(seqs.reduce((n, s) => n + (s.scored ? s.logp.length : 0), 0));
      });
    }
  }

  it('the four aggregations differ on an uneven batch (each normaliser is its own)', () => {
    const { seqs } = batch(5, 2, 4, 'group');
    const losses = GRPO_LOSS_TYPES.map((lossType) => grpoTerms(seqs, { lossType, beta: 0.04, biasCorrectionKl: true, maxCompletionLength: 9, microBatch: 2 }).loss);
    expect(new Set(losses.map((l) => l.toFixed(9))).size).toBe(4);
  });

  it('refuses mismatched log-probabilities and a bad micro-batch size', () => {
    const seq = { advantage: 1, logp: [-1, -2], ref: [-1], scored: true };
    expect(() => grpoTerms([seq], { lossType: 'dapo', beta: 0, biasCorrectionKl: true, maxCompletionLength: 4, microBatch: 1 })).toThrow(/sequence 0 has 2 policy and 1 reference/);
    expect(() => grpoTerms([], { lossType: 'dapo', beta: 0, biasCorrectionKl: true, maxCompletionLength: 4, microBatch: 0 })).toThrow(/microBatch must be a positive integer, got 0/);
  });
});
