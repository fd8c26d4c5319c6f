// GRPO settings (configs/grpo.yaml): the training config every run reads (lora, optimizer,
// training, eval, prompt_format: train-config.ts, unchanged) plus a `grpo` section with TRL
// GRPOConfig's keys, read here. The train-config parser refuses keys it does not read, so the
// `grpo` section is blanked out (spaces, newlines kept) before it reads the rest: its errors keep
// their line numbers.
import { isMap, isScalar, LineCounter, parseDocument, type Node } from 'yaml';
import { quote } from '../model/quote.ts';
import { GRPO_LOSS_TYPES, SCALE_REWARDS, type GrpoLossType, type ScaleRewards } from './grpo.ts';
import { closest } from './train-config-keys.ts';
import { MAX_CONFIG_CHARS, parseTrainConfig, type TrainConfig } from './train-config.ts';

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
  lossType: GrpoLossType;
  scaleRewards: ScaleRewards;
  /** Completions cut at max_completion_length are left out of the loss. */
  maskTruncatedCompletions: boolean;
  maxSteps: number;
}

export interface GrpoConfig {
  train: TrainConfig;
  grpo: GrpoSettings;
}

/** The `grpo` section's keys (TRL GRPOConfig's names), in the order configs/grpo.yaml writes them. */
export const GRPO_KEYS = ['num_generations', 'max_completion_length', 'beta', 'use_bias_correction_kl', 'temperature', 'loss_type', 'scale_rewards', 'mask_truncated_completions', 'max_steps'] as const;

const LIMITS = { numGenerations: 1_024, maxCompletionLength: 131_072, beta: 1_000, temperature: 100, maxSteps: 10_000_000 } as const;

export function parseGrpoConfig(text: string, source = 'config'): GrpoConfig {
  if (text.length > MAX_CONFIG_CHARS) throw new Error(`${source}: ${text.length} characters is over the ${MAX_CONFIG_CHARS} a training config may have`);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0]!.message}`);
  const line = (node: Node | null | undefined) => (node?.range ? `${source}:${lines.linePos(node.range[0]).line}` : source);
  const pair = isMap(doc.contents) ? doc.contents.items.find((p) => isScalar(p.key) && p.key.value === 'grpo') : undefined;
  if (!pair) throw new Error(`${source}: no grpo section (expected the keys ${GRPO_KEYS.join(', ')})`);
  const section = pair.value as Node | null;
  if (!isMap(section)) throw new Error(`${line(pair.key as Node)}: grpo: expected a mapping with the keys ${GRPO_KEYS.join(', ')}`);
  const values = new Map<string, { value: unknown; node: Node }>();
  for (const item of section.items) {
    const key = isScalar(item.key) ? String(item.key.value) : quote(item.key);
    if (!(GRPO_KEYS as readonly string[]).includes(key)) throw new Error(`${line(item.key as Node)}: grpo.${key}: unknown key; the closest known one is ${closest(key, GRPO_KEYS)} (known keys under grpo: ${GRPO_KEYS.join(', ')})`);
    values.set(key, { value: isScalar(item.value) ? item.value.value : item.value, node: (item.value ?? item.key) as Node });
  }
  const get = (key: (typeof GRPO_KEYS)[number]) => {
    const entry = values.get(key);
    if (!entry) throw new Error(`${line(pair.key as Node)}: grpo.${key}: missing`);
    return entry;
  };
  const number = (key: (typeof GRPO_KEYS)[number], min: number, max: number, integer: boolean, above = false): number => {
    const { value, node } = get(key);
    const ok = typeof value === 'number' && Number.isFinite(value) && (!integer || Number.isInteger(value)) && (above ? value > min : value >= min) && value <= max;
    if (!ok) throw new Error(`${line(node)}: grpo.${key}: expected ${integer ? 'an integer' : 'a number'} in ${above ? '(' : '['}${min}, ${max}], got ${quote(value)}`);
    return value;
  };
  const oneOf = <T extends string>(key: (typeof GRPO_KEYS)[number], options: readonly T[]): T => {
    const { value, node } = get(key);
    if (typeof value !== 'string' || !options.includes(value as T)) throw new Error(`${line(node)}: grpo.${key}: expected one of ${options.join(', ')}, got ${quote(value)}`);
    return value as T;
  };
  const bool = (key: (typeof GRPO_KEYS)[number]): boolean => {
    const { value, node } = get(key);
    if (typeof value !== 'boolean') throw new Error(`${line(node)}: grpo.${key}: expected true or false, got ${quote(value)}`);
    return value;
  };
  const grpo: GrpoSettings = {
    // TRL needs two generations per group: one has no spread to compare against.
    numGenerations: number('num_generations', 2, LIMITS.numGenerations, true),
    maxCompletionLength: number('max_completion_length', 1, LIMITS.maxCompletionLength, true),
    beta: number('beta', 0, LIMITS.beta, false),
    useBiasCorrectionKl: bool('use_bias_correction_kl'),
    temperature: number('temperature', 0, LIMITS.temperature, false, true),
    lossType: oneOf('loss_type', GRPO_LOSS_TYPES),
    scaleRewards: oneOf('scale_rewards', SCALE_REWARDS),
    maskTruncatedCompletions: bool('mask_truncated_completions'),
    maxSteps: number('max_steps', 1, LIMITS.maxSteps, true),
  };
  // Blank the grpo section in place (pair.key to the end of its value) so the rest parses with its own line numbers.
  const start = (pair.key as Node).range![0];
  const end = section.range![2];
  const rest = text.slice(0, start) + text.slice(start, end).replace(/[^\n]/g, ' ') + text.slice(end);
  return { train: parseTrainConfig(rest, source), grpo };
}
