// What a GRPO run (grpo-job.ts) reports, keeps and hands back — the shapes the engine worker sends
// the page (protocol.ts) and `qmd grpo` prints, in one place. Every completion is model output:
// untrusted text, rendered as text only.
import type { LoraConfig } from '../model/peft.ts';
import type { DataIdentity } from './checkpoint.ts';
import type { GrpoConfig } from './grpo-config.ts';
import type { GraphProgress } from './protocol.ts';
import type { TrainerState } from './trainer.ts';

/** One sampled completion of a prompt, with what its reward is made of and what the loss made of it. */
export interface GrpoCompletion {
  /** Decoded, a leading <think>…</think> removed: what the scorers read. */
  text: string;
  /** The weighted sum the advantage is computed from (GrpoRewardWeights). */
  reward: number;
  /** The reward profile's score, 0–1 (0 on a hard fail); null when the scorers refused the pair. */
  rewardScore: number | null;
  /** The eval profile's percentage, 0–100; null when refused. */
  evalScore: number | null;
  /** The reward profile's format hard fail (no lex:/vec:/hyde: line first): what the drift guard counts. */
  hardFail: boolean;
  /** Why the scorers refused the pair (src/scoring/limits.ts); it then counts as a hard fail with reward 0. */
  refused?: string;
  advantage: number;
  /** Mean per-token KL to the reference policy. */
  kl: number;
  /** Completion tokens generated (without <|im_end|>). */
  tokens: number;
  /** Cut at max_completion_length. */
  truncated: boolean;
}

/** A prompt and its G completions. */
export interface GrpoGroup {
  query: string;
  completions: GrpoCompletion[];
}

/** One optimizer step of a GRPO run: its metrics (the charts) and its groups (the sample table). */
export interface GrpoStep {
  step: number; // 1-based
  of: number;
  loss: number;
  lr: number;
  /** Of the accumulated gradient, before clipping. */
  gradNorm: number;
  /** Means over the step's completions. */
  reward: number;
  rewardScore: number;
  evalScore: number;
  /** Fraction of the step's completions that hard-failed the format. */
  hardFailRate: number;
  kl: number;
  completionTokens: number;
  /** Fraction of groups whose rewards are all equal (they give no gradient). */
  zeroSpread: number;
  /** Seconds of this step spent sampling and scoring, and in the reference pass and the update. */
  generationSeconds: number;
  updateSeconds: number;
  /** Since the run started. */
  seconds: number;
  groups: GrpoGroup[];
}

/** The drift guard (grpo.yaml `drift_guard`): when either rule fires the run stops and rolls back. */
export interface GrpoGuardSettings {
  /** Hard-fail rate over the last `windowGroups` groups above which the run stops (QMD's collapse: 100 %). */
  maxHardFailRate: number;
  windowGroups: number;
  /** Mean KL of a step above which the run stops. */
  maxKl: number;
}

/** What the guard did: which rule fired at which step, where the run went back to, and the groups that made it fire. */
export interface GrpoHalt {
  rule: 'hard-fail-rate' | 'kl';
  /** A sentence: the rule, the value, the bound. */
  message: string;
  step: number;
  /** The checkpoint's step whose parameters the outcome holds (0: the fresh adapter). */
  rolledBackTo: number;
  groups: GrpoGroup[];
}

/** A GRPO run's state after a step: what a resumed run needs to continue bit for bit (sampling is keyed by seed, step, prompt, generation). */
export interface GrpoCheckpoint {
  version: 1;
  kind: 'grpo';
  config: GrpoConfig;
  guard: GrpoGuardSettings;
  maxSteps: number | null;
  totalSteps: number;
  lora: LoraConfig;
  /** The prompts the run samples from (their count and a hash of their text). */
  data: DataIdentity;
  /** Names the SFT adapter merged into the base (PEFT folder or stored adapter), checked again on resume; null: none. */
  sft: { name: string; fingerprint: string } | null;
  metrics: GrpoStep[];
  state: TrainerState;
}

export type GrpoPhase = 'compile' | 'generation' | 'update' | 'export';

export type GrpoProgress =
  | ({ kind: 'graph' } & GraphProgress)
  | { kind: 'generation'; step: number; index: number; of: number }
  | { kind: 'micro-batch'; step: number; index: number; of: number };

/** A finished (or stopped, paused or rolled-back) run. */
export interface GrpoOutcome {
  steps: GrpoStep[];
  stopped: boolean;
  paused: boolean;
  /** Set when the drift guard fired: the adapter is the rolled-back one. */
  halt: GrpoHalt | null;
  seconds: number;
}
