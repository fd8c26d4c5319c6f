import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_GUARD, readGrpoConfig } from '../engine/grpo-config.ts';
import {
  defaultGrpoSettings, fieldProblem, formatGrpoConfig, GRPO_FIELDS, GUARD_FIELDS, grpoSettingsProblem, importGrpoSettings, loadGrpoSettings, stepShape, storeGrpoSettings,
} from './grpo-settings.ts';

const memory = () => {
  const map = new Map<string, string>();
  return { map, getItem: (k: string) => map.get(k) ?? null, setItem: (k: string, v: string) => void map.set(k, v) };
};

describe('the GRPO form settings', () => {
  it("start from configs/grpo.yaml: QMD's GRPO run and its drift guard", () => {
    const s = defaultGrpoSettings();
    expect(s).toEqual({ ...readGrpoConfig(readFileSync(new URL('../../configs/grpo.yaml', import.meta.url), 'utf8')), checkpointEvery: 5 });
    expect(s.config.train.optimizer.lr).toBe(5e-7);
    expect(s.config.grpo).toMatchObject({ numGenerations: 4, maxCompletionLength: 200, beta: 0.04, temperature: 0.7, maxSteps: 200 });
    expect(grpoSettingsProblem(s)).toBeNull();
    expect(stepShape(s.config)).toEqual({ completions: 16, prompts: 4, whole: true });
  });

  it('write a YAML file that reads back to the same settings and guard', () => {
    const s = defaultGrpoSettings();
    s.config.grpo.beta = 0.1;
    s.config.grpo.lossType = 'dr_grpo';
    s.config.grpo.rewardWeights = { reward: 1, eval: 0.5 };
    s.guard = { maxHardFailRate: 0.4, windowGroups: 3, maxKl: 0.5 };
    const text = formatGrpoConfig(s.config, s.guard);
    expect(readGrpoConfig(text, 'exported.yaml')).toEqual({ config: s.config, guard: s.guard });
    const imported = importGrpoSettings(text, 'exported.yaml', { ...defaultGrpoSettings(), checkpointEvery: 2 });
    expect(imported).toEqual({ config: s.config, guard: s.guard, checkpointEvery: 2, importedFrom: 'exported.yaml' });
  });

  it("name the field out of range in the YAML's words, through the parser's own ranges", () => {
    const s = defaultGrpoSettings();
    s.config.grpo.numGenerations = 1;
    expect(grpoSettingsProblem(s)).toBe('grpo.num_generations: expected an integer in [2, 1024], got 1');
    expect(fieldProblem(s, 'grpo.num_generations')).toBe(grpoSettingsProblem(s));
    expect(fieldProblem(s, 'grpo.beta')).toBeNull();
    s.config.grpo.numGenerations = 4;
    s.config.train.optimizer.lr = Number.NaN; // a cleared input
    expect(fieldProblem(s, 'optimizer.lr')).toMatch(/^optimizer\.lr: expected a number in \(0, 1\]/);
    s.config.train.optimizer.lr = 1e-6;
    s.guard.maxHardFailRate = 1.5;
    expect(fieldProblem(s, 'drift_guard.max_hard_fail_rate')).toMatch(/^drift_guard\.max_hard_fail_rate: expected a number in \[0, 1\], got 1\.5/);
    s.guard.maxHardFailRate = 0.25;
    s.checkpointEvery = 0;
    expect(grpoSettingsProblem(s)).toBe('checkpoint every must be an integer ≥ 1');
  });

  it('edit the keys a user changes through one table, the hard-fail rate in percent', () => {
    const s = defaultGrpoSettings();
    const keys = GRPO_FIELDS.map((f) => f.key);
    expect(keys).toEqual(expect.arrayContaining(['optimizer.lr', 'grpo.max_steps', 'grpo.num_generations', 'grpo.max_completion_length', 'grpo.beta', 'grpo.temperature']));
    for (const f of GRPO_FIELDS) {
      f.set(s.config, 3);
      expect(f.get(s.config), f.key).toBe(3);
    }
    const hardFail = GUARD_FIELDS.find((g) => g.key === 'drift_guard.max_hard_fail_rate')!;
    expect(hardFail.get(DEFAULT_GUARD)).toBe(25);
    hardFail.set(s.guard, 40);
    expect(s.guard.maxHardFailRate).toBe(0.4);
    s.config.grpo.numGenerations = 4;
    expect(stepShape(s.config)).toEqual({ completions: 9, prompts: 2.25, whole: false });
  });

  it('are kept in storage, and an unusable saved config falls back to the preset', () => {
    const storage = memory();
    const s = defaultGrpoSettings();
    s.config.grpo.temperature = 1.1;
    s.checkpointEvery = 1;
    storeGrpoSettings(s, storage);
    expect(loadGrpoSettings(storage)).toEqual(s);
    storage.setItem('qmd-lab.grpo-settings', JSON.stringify({ ...s, config: { ...s.config, grpo: { ...s.config.grpo, lossType: 'gone' } } }));
    expect(loadGrpoSettings(storage).config).toEqual(defaultGrpoSettings().config);
    storage.setItem('qmd-lab.grpo-settings', '{not json');
    expect(loadGrpoSettings(storage)).toEqual(defaultGrpoSettings());
  });
});
