// The training form's settings: configs/sft.yaml's values by default, kept in localStorage so a
// reload keeps them, and checked before a run starts (a cleared number input reads as null/NaN).
import sftYaml from '../../../configs/sft.yaml?raw';
import { parseTrainConfig, trainConfigProblem, type TrainConfig } from '../../engine/train-config.ts';
import { loraTargets } from '../../model/tensors.ts';

export interface TrainSettings {
  config: TrainConfig;
  /** Ends the run early (the schedule shrinks to it); null trains every epoch. */
  maxSteps: number | null;
}

const KEY = 'qmd-lab.train-settings';

export const defaultSettings = (): TrainSettings => ({ config: parseTrainConfig(sftYaml, 'configs/sft.yaml'), maxSteps: null });

/** The saved settings over the defaults, field group by field group; the defaults when nothing (readable) was saved. */
export function loadSettings(storage: Pick<Storage, 'getItem'> | undefined = globalThis.localStorage): TrainSettings {
  const base = defaultSettings();
  try {
    const saved = JSON.parse(storage?.getItem(KEY) ?? 'null') as Partial<TrainSettings> | null;
    if (!saved?.config) return base;
    const c = saved.config;
    return {
      config: {
        ...base.config,
        lora: { ...base.config.lora, ...c.lora },
        optimizer: { ...base.config.optimizer, ...c.optimizer },
        training: { ...base.config.training, ...c.training },
        eval: { ...base.config.eval, ...c.eval },
      },
      maxSteps: saved.maxSteps ?? null,
    };
  } catch {
    return base;
  }
}

export function storeSettings(settings: TrainSettings, storage: Pick<Storage, 'setItem'> | undefined = globalThis.localStorage): void {
  try {
    storage?.setItem(KEY, JSON.stringify(settings));
  } catch {
    // Blocked or full storage: the settings then last until the reload, which the page says.
  }
}

/** What is wrong with `s`, field by field, or null. */
export function settingsProblem({ config: c, maxSteps }: TrainSettings): string | null {
  const int = (v: number, min: number) => Number.isInteger(v) && v >= min;
  const checks: [boolean, string][] = [
    [int(c.lora.r, 1), 'LoRA r must be an integer ≥ 1'],
    [c.lora.alpha > 0, 'LoRA alpha must be > 0'],
    [c.lora.dropout >= 0 && c.lora.dropout < 1, 'LoRA dropout must be in [0, 1)'],
    [c.lora.targets.length > 0 && c.lora.targets.every((t) => loraTargets.includes(t)), 'pick at least one LoRA target'],
    [c.optimizer.lr > 0, 'the learning rate must be > 0'],
    [c.optimizer.warmupRatio >= 0 && c.optimizer.warmupRatio < 1, 'the warmup ratio must be in [0, 1)'],
    [int(c.training.batchSize, 1), 'the batch size must be an integer ≥ 1'],
    [int(c.training.gradAccum, 1), 'gradient accumulation must be an integer ≥ 1'],
    [int(c.training.maxLength, 2), 'the max length must be an integer ≥ 2'],
    [c.training.epochs > 0, 'epochs must be > 0'],
    [int(c.training.seed, 0), 'the seed must be an integer ≥ 0'],
    [c.eval.split > 0 && c.eval.split < 1, 'the validation share must be in (0, 1)'],
    [int(c.eval.seed, 0), 'the split seed must be an integer ≥ 0'],
    [maxSteps === null || int(maxSteps, 1), 'max steps must be empty or an integer ≥ 1'],
  ];
  // The engine's ranges (finite, bounded) catch what the form's own wording does not, e.g. an lr of 1e999.
  return checks.find(([ok]) => !ok)?.[1] ?? trainConfigProblem(c);
}
