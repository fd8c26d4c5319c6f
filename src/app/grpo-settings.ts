// The #/grpo form's settings: configs/grpo.yaml (QMD's GRPO run) by default, the keys a user
// changes edited one by one, the drift guard's bounds, kept in localStorage, and read from or
// written to a YAML file that `qmd grpo --config` reads. Ranges have one home: a form value is
// checked by writing the config as YAML and reading it back with grpo-config.ts.
import grpoYaml from '../../configs/grpo.yaml?raw';
import type { GrpoRunSettings } from '../data/db.ts';
import { readGrpoConfig, type GrpoConfig } from '../engine/grpo-config.ts';
import type { GrpoGuardSettings } from '../engine/grpo-protocol.ts';
import { formatTrainConfig } from '../engine/train-config.ts';
import type { DraftStorage } from './draft.ts';

export const GRPO_PRESET_FILE = 'configs/grpo.yaml';

/** A checkpoint every 5 steps: GRPO steps are long (G samples per prompt), a checkpoint costs little, and the guard rolls back to it. */
const CHECKPOINT_EVERY = 5;

export interface GrpoFormSettings extends GrpoRunSettings {
  /** The imported file's name; absent: the preset's values (edited or not). */
  importedFrom?: string;
}

export function defaultGrpoSettings(): GrpoFormSettings {
  const { config, guard } = readGrpoConfig(grpoYaml, GRPO_PRESET_FILE);
  return { config, guard, checkpointEvery: CHECKPOINT_EVERY };
}

/** `config` and `guard` as a YAML file that readGrpoConfig reads back to equal objects. */
export function formatGrpoConfig(config: GrpoConfig, guard: GrpoGuardSettings): string {
  const g = config.grpo;
  return [
    formatTrainConfig(config.train, 'GRPO settings written by qmd-lab (read by #/grpo and qmd grpo --config).').trimEnd(),
    'grpo:',
    `  num_generations: ${g.numGenerations}`,
    `  max_completion_length: ${g.maxCompletionLength}`,
    `  beta: ${g.beta}`,
    `  use_bias_correction_kl: ${g.useBiasCorrectionKl}`,
    `  temperature: ${g.temperature}`,
    `  top_k: ${g.topK}`,
    `  top_p: ${g.topP}`,
    `  loss_type: ${g.lossType}`,
    `  scale_rewards: ${g.scaleRewards}`,
    `  mask_truncated_completions: ${g.maskTruncatedCompletions}`,
    `  max_steps: ${g.maxSteps}`,
    `  reward_weights: { reward: ${g.rewardWeights.reward}, eval: ${g.rewardWeights.eval} }`,
    'drift_guard:',
    `  max_hard_fail_rate: ${guard.maxHardFailRate}`,
    `  window_groups: ${guard.windowGroups}`,
    `  max_kl: ${guard.maxKl}`,
    '',
  ].join('\n');
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** What is wrong with the config or the guard, in the YAML's words (grpo-config's and train-config's ranges), or null. */
export function grpoConfigProblem(config: GrpoConfig, guard: GrpoGuardSettings): string | null {
  try {
    readGrpoConfig(formatGrpoConfig(config, guard), 'form');
    return null;
  } catch (error) {
    // "form:31: grpo.beta: expected …", "formatTrainConfig: optimizer.lr: …": the text nobody sees is not named.
    return messageOf(error).replace(/^(form(:\d+)?: )?(formatTrainConfig: )?/, '');
  }
}

export function grpoSettingsProblem(s: GrpoFormSettings): string | null {
  const every = Number.isInteger(s.checkpointEvery) && s.checkpointEvery >= 1 ? null : 'checkpoint every must be an integer ≥ 1';
  return grpoConfigProblem(s.config, s.guard) ?? every;
}

/** The problem of the one field whose YAML key is `key` (e.g. `grpo.beta`, `drift_guard.max_kl`), or null. */
export function fieldProblem(s: GrpoRunSettings, key: string): string | null {
  const problem = grpoConfigProblem(s.config, s.guard);
  return problem?.startsWith(`${key}:`) ? problem : null;
}

/** Completions and prompts in one optimizer step: batch × accumulation completions, G of them per prompt. */
export function stepShape(config: GrpoConfig): { completions: number; prompts: number; whole: boolean } {
  const completions = config.train.training.batchSize * config.train.training.gradAccum;
  const prompts = completions / config.grpo.numGenerations;
  return { completions, prompts, whole: Number.isInteger(prompts) };
}

const KEY = 'qmd-lab.grpo-settings';

/** The saved settings, each part checked; the defaults where nothing (usable) was saved. */
export function loadGrpoSettings(storage: Pick<DraftStorage, 'getItem'> | undefined = globalThis.localStorage): GrpoFormSettings {
  const base = defaultGrpoSettings();
  try {
    const saved = JSON.parse(storage?.getItem(KEY) ?? 'null') as Partial<GrpoFormSettings> | null;
    if (!saved) return base;
    const merged: GrpoFormSettings = { ...base, ...saved, guard: { ...base.guard, ...saved.guard } };
    // A config saved by an older page (a key since added or renamed) falls back to the preset's whole.
    if (!saved.config || grpoConfigProblem(saved.config, merged.guard) !== null) Object.assign(merged, { config: base.config, guard: base.guard });
    return merged;
  } catch {
    return base;
  }
}

export function storeGrpoSettings(settings: GrpoFormSettings, storage: Pick<DraftStorage, 'setItem'> | undefined = globalThis.localStorage): void {
  try {
    storage?.setItem(KEY, JSON.stringify(settings));
  } catch {
    // Blocked or full storage: the settings last until the reload.
  }
}

/** A YAML file as the form's settings, its drift guard included (the preset's where it has none); the cadence kept. */
export function importGrpoSettings(text: string, fileName: string, current: GrpoFormSettings): GrpoFormSettings {
  return { ...current, ...readGrpoConfig(text, fileName), importedFrom: fileName };
}

/** A number of the form: its YAML key (for its problem), label, a line of help, where the config holds it. */
export interface GrpoField {
  key: string;
  label: string;
  help: string;
  get(c: GrpoConfig): number;
  set(c: GrpoConfig, v: number): void;
  integer?: boolean;
}

const field = (key: string, label: string, help: string, get: (c: GrpoConfig) => number, set: (c: GrpoConfig, v: number) => void, integer = false): GrpoField =>
  ({ key, label, help, get, set, integer });

/** The keys a GRPO run is usually tuned by; the rest come from the preset or an imported file. */
export const GRPO_FIELDS: readonly GrpoField[] = [
  field('optimizer.lr', 'learning rate', "AdamW's rate (QMD's run: 5e-7: GRPO moves a model that already writes the format).", (c) => c.train.optimizer.lr, (c, v) => (c.train.optimizer.lr = v)),
  field('grpo.max_steps', 'max steps', 'Optimizer steps of the run (QMD: 200).', (c) => c.grpo.maxSteps, (c, v) => (c.grpo.maxSteps = v), true),
  field('grpo.num_generations', 'generations (G)', 'Completions sampled per prompt; their rewards are compared within the group (QMD: 4).', (c) => c.grpo.numGenerations, (c, v) => (c.grpo.numGenerations = v), true),
  field('grpo.max_completion_length', 'max completion', 'Tokens a completion may have; longer ones are cut (QMD: 200).', (c) => c.grpo.maxCompletionLength, (c, v) => (c.grpo.maxCompletionLength = v), true),
  field('grpo.beta', 'beta (KL)', 'Weight of the KL to the SFT model in the loss: what keeps the policy near it (QMD: 0.04).', (c) => c.grpo.beta, (c, v) => (c.grpo.beta = v)),
  field('grpo.temperature', 'temperature', 'Sampling temperature of the completions (QMD: 0.7).', (c) => c.grpo.temperature, (c, v) => (c.grpo.temperature = v)),
  field('training.batch_size', 'batch', 'Completions per micro-batch of the update (QMD: 2).', (c) => c.train.training.batchSize, (c, v) => (c.train.training.batchSize = v), true),
  field('training.grad_accum', 'grad accum', 'Micro-batches per step: batch × accum completions, G per prompt, make a step (QMD: 2 × 8 = 16, 4 prompts).', (c) => c.train.training.gradAccum, (c, v) => (c.train.training.gradAccum = v), true),
  field('training.max_length', 'max length', 'Tokens of prompt + completion the update graph holds (QMD: 512).', (c) => c.train.training.maxLength, (c, v) => (c.train.training.maxLength = v), true),
];

/** The drift guard's bounds as the form shows them (the hard-fail rate in percent), with their YAML keys. */
export const GUARD_FIELDS = [
  { key: 'drift_guard.max_hard_fail_rate', label: 'hard fails over', unit: '%', help: 'Stop and roll back when more of the last groups’ completions hard-fail the format (no lex:/vec:/hyde: line first) than this.', get: (g: GrpoGuardSettings) => g.maxHardFailRate * 100, set: (g: GrpoGuardSettings, v: number) => (g.maxHardFailRate = v / 100) },
  { key: 'drift_guard.window_groups', label: 'over the last', unit: 'groups', help: 'Groups (prompts) the hard-fail rate is taken over.', get: (g: GrpoGuardSettings) => g.windowGroups, set: (g: GrpoGuardSettings, v: number) => (g.windowGroups = v) },
  { key: 'drift_guard.max_kl', label: 'mean KL over', unit: 'nats', help: 'Stop and roll back when a step’s mean per-token KL to the SFT model passes this.', get: (g: GrpoGuardSettings) => g.maxKl, set: (g: GrpoGuardSettings, v: number) => (g.maxKl = v) },
] as const;
