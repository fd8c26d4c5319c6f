// GRPO's objective for one generation batch, as TRL's GRPOTrainer computes it, in float64: group
// advantages, the per-token KL to the reference policy, the loss under each `loss_type`, and the
// per-token weights that turn the train step's weighted cross-entropy into that loss's gradient.
// Facts from TRL 1.13.0 (the version the fixture runs; the same code at huggingface/trl@f2cd577):
// trl/trainer/grpo_trainer.py `_generate_and_score_completions` (advantages) and `_compute_loss`
// (KL, clipping, aggregation), trl/trainer/utils.py `nanstd` (Bessel-corrected, i.e. unbiased).
//
// With one update per generation batch (num_iterations 1) the old policy is the policy itself, so
// ρ = exp(logp − logp_old) = 1 and its clip is inactive: the per-token loss is −A + β·KL and
//   d loss / d logp_t = (−A_i + β·(1 − exp(ref_t − logp_t)) + [bias]·β·KL_t) / n_t
// for the aggregation's normaliser n_t; [bias] is TRL's use_bias_correction_kl (default true since
// TRL 1.13, false at f2cd577): the KL multiplied by ρ, whose value is 1 but whose gradient is not 0. A weight w_t = −d loss/d logp_t on the token's
// cross-entropy (−logp_t) therefore gives the loss's gradient wrt every LoRA parameter.

/** How rewards are scaled into advantages (TRL `scale_rewards`): by the group's std, the batch's, or not at all. */
export const SCALE_REWARDS = ['group', 'batch', 'none'] as const;
export type ScaleRewards = (typeof SCALE_REWARDS)[number];

/** TRL `loss_type`s this module aggregates (TRL 1.x defaults to dapo). */
export const GRPO_LOSS_TYPES = ['grpo', 'bnpo', 'dr_grpo', 'dapo'] as const;
export type GrpoLossType = (typeof GRPO_LOSS_TYPES)[number];

/** TRL's guard against a zero spread: (r − mean) / (std + 1e-4). */
export const ADVANTAGE_EPS = 1e-4;

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Unbiased standard deviation (TRL's nanstd, without NaNs); NaN for fewer than two values, as there. */
export function unbiasedStd(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}

/**
 * rewards[prompt][generation] → advantages of the same shape: r minus its group's mean, divided
 * by (std + 1e-4) where std is the group's (`group`) or the whole batch's (`batch`; the mean is
 * still the group's), or not divided (`none`). A group of one has no spread: TRL uses std 0 then.
 */
export function advantages(rewards: readonly (readonly number[])[], scale: ScaleRewards): number[][] {
  const all = rewards.flat();
  const batchStd = all.length > 1 ? unbiasedStd(all) : 0;
  return rewards.map((group) => {
    const m = mean(group);
    const std = scale === 'batch' ? batchStd : group.length > 1 ? unbiasedStd(group) : 0;
    return group.map((r) => (scale === 'none' ? r - m : (r - m) / (std + ADVANTAGE_EPS)));
  });
}

/** Per-token KL estimate to the reference (Schulman's k3): exp(ref − logp) − (ref − logp) − 1, ≥ 0. */
export const tokenKl = (logp: number, ref: number): number => Math.exp(ref - logp) - (ref - logp) - 1;

/** One completion as the loss sees it. */
export interface GrpoSequence {
  advantage: number;
  /** Per completion token: log-probability under the policy (logits / temperature, as TRL). */
  logp: readonly number[];
  /** The same under the reference policy (LoRA disabled). */
  ref: readonly number[];
  /** false: its tokens are masked out of the loss (mask_truncated_completions on a cut completion). */
  scored: boolean;
}

export interface GrpoObjective {
  lossType: GrpoLossType;
  beta: number;
  /** TRL use_bias_correction_kl: the KL term is ρ·KL, adding β·KL_t/n_t to d loss/d logp_t. */
  biasCorrectionKl: boolean;
  /** dr_grpo divides by rows × this (the configured maximum, not the batch's longest). */
  maxCompletionLength: number;
  /**
   * Rows per micro-batch (TRL per_device_train_batch_size): the sequences, in order, are one
   * accumulation window of ⌈n / microBatch⌉ micro-batches, each normalised on its own and the
   * sum divided by their count (bnpo's result depends on this partition; TRL shuffles before splitting).
   */
  microBatch: number;
}

export interface GrpoTerms {
  /** The window's loss: the sum of its micro-batches' losses, each already divided as TRL divides it. */
  loss: number;
  /** Per sequence and token: the weight of −logp_t whose weighted sum has the loss's gradient (0 where masked). */
  weights: number[][];
  /** Per sequence: the mean per-token KL over its tokens (masked or not: what the page charts). */
  kl: number[];
  /** Tokens the loss scores (TRL num_items_in_batch). */
  scoredTokens: number;
}

/** The normaliser n of each sequence's tokens under `lossType` (see the module comment). */
export function normalisers(sequences: readonly GrpoSequence[], o: GrpoObjective): number[] {
  const tokens = sequences.map((s) => (s.scored ? s.logp.length : 0));
  const steps = Math.ceil(sequences.length / o.microBatch);
  const total = tokens.reduce((a, b) => a + b, 0);
  return sequences.map((_, i) => {
    const start = Math.floor(i / o.microBatch) * o.microBatch;
    const rows = Math.min(o.microBatch, sequences.length - start);
    const inMicroBatch = tokens.slice(start, start + rows).reduce((a, b) => a + b, 0);
    switch (o.lossType) {
      case 'grpo': // mean over each sequence's tokens, then over the micro-batch's rows
        return steps * rows * Math.max(tokens[i]!, 1);
      case 'bnpo': // mean over the micro-batch's tokens
        return steps * Math.max(inMicroBatch, 1);
      case 'dr_grpo': // rows × max_completion_length
        return steps * rows * o.maxCompletionLength;
      case 'dapo': // the whole generation batch's tokens (num_items_in_batch; steps_per_generation = the window)
        return Math.max(total, 1);
    }
  });
}

export function grpoTerms(sequences: readonly GrpoSequence[], o: GrpoObjective): GrpoTerms {
  if (!Number.isInteger(o.microBatch) || o.microBatch < 1) throw new Error(`grpoTerms: microBatch must be a positive integer, got ${o.microBatch}`);
  sequences.forEach((s, i) => {
    if (s.logp.length !== s.ref.length) throw new Error(`grpoTerms: sequence ${i} has ${s.logp.length} policy and ${s.ref.length} reference log-probabilities`);
  });
  const n = normalisers(sequences, o);
  let loss = 0;
  const weights = sequences.map((s, i) =>
    s.logp.map((logp, t) => {
      if (!s.scored) return 0;
      const ref = s.ref[t]!;
      const kl = tokenKl(logp, ref);
      loss += (-s.advantage + o.beta * kl) / n[i]!;
      return (s.advantage - o.beta * (1 - Math.exp(ref - logp)) - (o.biasCorrectionKl ? o.beta * kl : 0)) / n[i]!;
    }),
  );
  const kl = sequences.map((s) => (s.logp.length === 0 ? 0 : mean(s.logp.map((logp, t) => tokenKl(logp, s.ref[t]!)))));
  const scoredTokens = sequences.reduce((sum, s) => sum + (s.scored ? s.logp.length : 0), 0);
  return { loss, weights, kl, scoredTokens };
}
