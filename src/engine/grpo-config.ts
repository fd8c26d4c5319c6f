// GRPO settings (configs/grpo.yaml): the training config every run reads (lora, optimizer,
// training, eval, prompt_format: train-config.ts, unchanged) plus a `grpo` section with TRL
// GRPOConfig's keys and an optional `drift_guard` section (the run's stop-and-roll-back rules),
// read here. The train-config parser refuses keys it does not read, so these sections are blanked
// out (spaces, newlines kept) before it reads the rest: its errors keep their line numbers.
import { isMap, isScalar, LineCounter, parseDocument, type Node, type Pair } from 'yaml';
import { quote } from '../model/quote.ts';
import { GRPO_LOSS_TYPES, SCALE_REWARDS, type GrpoLossType, type ScaleRewards } from './grpo.ts';
import type { GrpoGuardSettings } from './grpo-protocol.ts';
import { closest } from './train-config-keys.ts';
import { MAX_CONFIG_CHARS, parseTrainConfig, type TrainConfig } from './train-config.ts';

/** A completion's reward = reward·(reward profile score, 0–1) + eval·(eval profile percentage / 100). */
export interface GrpoRewardWeights {
  reward: number;
  eval: number;
}

export interface GrpoSettings {
  /** Completions sampled per prompt (G). */
  numGenerations: number;
  /** Tokens a completion may have; dr_grpo divides by it. */
  maxCompletionLength: number;
  /** KL coefficient (0: no reference policy is needed). */
  beta: number;
  /** TRL use_bias_correction_kl (its default true since 1.13): the KL term weighted by ρ, which changes its gradient (grpo.ts). */
  useBiasCorrectionKl: boolean;
  /** Sampling temperature; TRL also divides the logits by it when it takes log-probabilities for the loss. */
  temperature: number;
  /** Sampling: the k most likely tokens (0: all) and the nucleus p (1: all), as TRL's top_k / top_p. */
  topK: number;
  topP: number;
  lossType: GrpoLossType;
  scaleRewards: ScaleRewards;
  /** Completions cut at max_completion_length are left out of the loss. */
  maskTruncatedCompletions: boolean;
  maxSteps: number;
  rewardWeights: GrpoRewardWeights;
}

export interface GrpoConfig {
  train: TrainConfig;
  grpo: GrpoSettings;
}

/** The `grpo` section's keys (TRL GRPOConfig's names), in the order configs/grpo.yaml writes them. */
export const GRPO_KEYS = ['num_generations', 'max_completion_length', 'beta', 'use_bias_correction_kl', 'temperature', 'top_k', 'top_p', 'loss_type', 'scale_rewards', 'mask_truncated_completions', 'max_steps', 'reward_weights'] as const;
/** Keys that may be left out, and what they then are (TRL's defaults; the reward profile alone). */
const GRPO_OPTIONAL = { top_k: 0, top_p: 1, reward_weights: { reward: 1, eval: 0 } } as const;
export const GUARD_KEYS = ['max_hard_fail_rate', 'window_groups', 'max_kl'] as const;

/**
 * The drift guard when configs leave it out. 25 % hard fails over 8 groups (two of QMD's steps of 4
 * prompts): QMD's collapse went to 100 %, an SFT model that learnt the format starts near 0. Mean
 * per-token KL 1 nat: the SFT model finds the policy's tokens about e times less likely, token after
 * token — a different way of writing, not a refinement of the lines (β 0.04 and lr 5e-7 are set to
 * keep it a small fraction of that).
 */
export const DEFAULT_GUARD: Readonly<GrpoGuardSettings> = Object.freeze({ maxHardFailRate: 0.25, windowGroups: 8, maxKl: 1 });

const LIMITS = { numGenerations: 1_024, maxCompletionLength: 131_072, beta: 1_000, temperature: 100, topK: 1_000_000, maxSteps: 10_000_000, rewardWeight: 1_000, windowGroups: 1_000_000, maxKl: 1_000_000 } as const;

/** A section's keys and values (errors with their lines), each read at most once, unknown keys refused. */
function sectionReader(pair: Pair, section: string, keys: readonly string[], line: (node: Node | null | undefined) => string) {
  const node = pair.value as Node | null;
  if (!isMap(node)) throw new Error(`${line(pair.key as Node)}: ${section}: expected a mapping with the keys ${keys.join(', ')}`);
  const values = new Map<string, { value: unknown; node: Node }>();
  for (const item of node.items) {
    const key = isScalar(item.key) ? String(item.key.value) : quote(item.key);
    if (!keys.includes(key)) throw new Error(`${line(item.key as Node)}: ${section}.${key}: unknown key; the closest known one is ${closest(key, keys)} (known keys under ${section}: ${keys.join(', ')})`);
    values.set(key, { value: isScalar(item.value) ? item.value.value : item.value, node: (item.value ?? item.key) as Node });
  }
  const get = (key: string) => {
    const entry = values.get(key);
    if (!entry) throw new Error(`${line(pair.key as Node)}: ${section}.${key}: missing`);
    return entry;
  };
  const number = (key: string, min: number, max: number, integer: boolean, above = false): number => {
    const { value, node } = get(key);
    const ok = typeof value === 'number' && Number.isFinite(value) && (!integer || Number.isInteger(value)) && (above ? value > min : value >= min) && value <= max;
    if (!ok) throw new Error(`${line(node)}: ${section}.${key}: expected ${integer ? 'an integer' : 'a number'} in ${above ? '(' : '['}${min}, ${max}], got ${quote(value)}`);
    return value;
  };
  return { get, number, has: (key: string) => values.has(key) };
}

/** The settings of a GRPO config file (its drift guard aside: readGrpoConfig). */
export const parseGrpoConfig = (text: string, source = 'config'): GrpoConfig => readGrpoConfig(text, source).config;

/** A GRPO config file: the run's settings and its drift guard (DEFAULT_GUARD where the file has no drift_guard section). */
export function readGrpoConfig(text: string, source = 'config'): { config: GrpoConfig; guard: GrpoGuardSettings } {
  if (text.length > MAX_CONFIG_CHARS) throw new Error(`${source}: ${text.length} characters is over the ${MAX_CONFIG_CHARS} a training config may have`);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0]!.message}`);
  const line = (node: Node | null | undefined) => (node?.range ? `${source}:${lines.linePos(node.range[0]).line}` : source);
  const top = (name: string) => (isMap(doc.contents) ? doc.contents.items.find((p) => isScalar(p.key) && p.key.value === name) : undefined);
  const pair = top('grpo');
  if (!pair) throw new Error(`${source}: no grpo section (expected the keys ${GRPO_KEYS.join(', ')})`);
  const g = sectionReader(pair, 'grpo', GRPO_KEYS, line);
  const oneOf = <T extends string>(key: string, options: readonly T[]): T => {
    const { value, node } = g.get(key);
    if (typeof value !== 'string' || !options.includes(value as T)) throw new Error(`${line(node)}: grpo.${key}: expected one of ${options.join(', ')}, got ${quote(value)}`);
    return value as T;
  };
  const bool = (key: string): boolean => {
    const { value, node } = g.get(key);
    if (typeof value !== 'boolean') throw new Error(`${line(node)}: grpo.${key}: expected true or false, got ${quote(value)}`);
    return value;
  };
  const grpo: GrpoSettings = {
    // TRL needs two generations per group: one has no spread to compare against.
    numGenerations: g.number('num_generations', 2, LIMITS.numGenerations, true),
    maxCompletionLength: g.number('max_completion_length', 1, LIMITS.maxCompletionLength, true),
    beta: g.number('beta', 0, LIMITS.beta, false),
    useBiasCorrectionKl: bool('use_bias_correction_kl'),
    temperature: g.number('temperature', 0, LIMITS.temperature, false, true),
    topK: g.has('top_k') ? g.number('top_k', 0, LIMITS.topK, true) : GRPO_OPTIONAL.top_k,
    topP: g.has('top_p') ? g.number('top_p', 0, 1, false, true) : GRPO_OPTIONAL.top_p,
    lossType: oneOf('loss_type', GRPO_LOSS_TYPES),
    scaleRewards: oneOf('scale_rewards', SCALE_REWARDS),
    maskTruncatedCompletions: bool('mask_truncated_completions'),
    maxSteps: g.number('max_steps', 1, LIMITS.maxSteps, true),
    rewardWeights: g.has('reward_weights') ? rewardWeights(g.get('reward_weights'), line) : { ...GRPO_OPTIONAL.reward_weights },
  };
  const guardPair = top('drift_guard');
  let guard = { ...DEFAULT_GUARD };
  if (guardPair) {
    const d = sectionReader(guardPair, 'drift_guard', GUARD_KEYS, line);
    const or = (key: string, fallback: number, read: () => number) => (d.has(key) ? read() : fallback);
    guard = {
      maxHardFailRate: or('max_hard_fail_rate', DEFAULT_GUARD.maxHardFailRate, () => d.number('max_hard_fail_rate', 0, 1, false)),
      windowGroups: or('window_groups', DEFAULT_GUARD.windowGroups, () => d.number('window_groups', 1, LIMITS.windowGroups, true)),
      maxKl: or('max_kl', DEFAULT_GUARD.maxKl, () => d.number('max_kl', 0, LIMITS.maxKl, false, true)),
    };
  }
  // Blank the sections in place (key to the end of its value) so the rest parses with its own line numbers.
  let rest = text;
  for (const p of [pair, guardPair]) {
    if (!p) continue;
    const start = (p.key as Node).range![0];
    const end = (p.value as Node).range![2];
    rest = rest.slice(0, start) + rest.slice(start, end).replace(/[^\n]/g, ' ') + rest.slice(end);
  }
  return { config: { train: parseTrainConfig(rest, source), grpo }, guard };
}

/** grpo.reward_weights: {reward, eval}, each in [0, 1000], not both 0. */
function rewardWeights(entry: { value: unknown; node: Node }, line: (node: Node | null | undefined) => string): GrpoRewardWeights {
  const where = `${line(entry.node)}: grpo.reward_weights`;
  if (!isMap(entry.value)) throw new Error(`${where}: expected a mapping {reward: number, eval: number}, got ${quote(entry.value)}`);
  const weights: Record<string, number> = {};
  for (const item of entry.value.items) {
    const key = isScalar(item.key) ? String(item.key.value) : quote(item.key);
    const value = isScalar(item.value) ? item.value.value : item.value;
    if (key !== 'reward' && key !== 'eval') throw new Error(`${line(item.key as Node)}: grpo.reward_weights.${key}: unknown key (expected reward and eval: the two scoring profiles)`);
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > LIMITS.rewardWeight) throw new Error(`${line(item.value as Node)}: grpo.reward_weights.${key}: expected a number in [0, ${LIMITS.rewardWeight}], got ${quote(value)}`);
    weights[key] = value;
  }
  const w = { reward: weights.reward ?? 0, eval: weights.eval ?? 0 };
  if (w.reward === 0 && w.eval === 0) throw new Error(`${where}: both weights are 0, so every completion's reward would be 0 and no step would learn anything`);
  return w;
}
