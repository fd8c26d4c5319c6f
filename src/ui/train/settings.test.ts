import { describe, expect, it } from 'vitest';
import { QMD_SFT_V2_8_3 } from '../../testing/qmd-configs.ts';
import { parseQmdTrainerConfig } from '../../engine/qmd-trainer-config.ts';
import { parseTrainConfig } from '../../engine/train-config.ts';
import {
  defaultSettings, exportSettings, fieldProblem, importSettings, inputBounds, loadSettings, LORA_FIELDS, OPTIMIZER_FIELDS, presetSettings, RECOMPUTE_FIELD, SCHEDULE_FIELDS, settingsProblem, storeSettings,
} from './settings.ts';

describe('settingsProblem', () => {
  it("passes configs/sft.yaml's defaults and refuses what the engine's ranges refuse, such as a learning rate of 1e999", () => {
    const settings = defaultSettings();
    expect(settingsProblem(settings)).toBeNull();
    const c = settings.config;
    expect(settingsProblem({ ...settings, config: { ...c, optimizer: { ...c.optimizer, lr: Number('1e999') } } })).toBe('optimizer.lr: expected a number in (0, 1], got Infinity');
    expect(settingsProblem({ ...settings, config: { ...c, training: { ...c.training, epochs: Infinity } } })).toBe('training.epochs: expected a number in (0, 1000], got Infinity');
    expect(settingsProblem({ ...settings, config: { ...c, lora: { ...c.lora, targets: [] } } })).toBe('lora.targets: expected a non-empty list');
    expect(settingsProblem({ ...settings, maxSteps: 0 })).toBe('max steps must be empty or an integer ≥ 1');
  });

  it('checks the checkpoint and validation cadence, and gives settings saved before they existed the defaults', () => {
    const settings = defaultSettings();
    expect(settings).toMatchObject({ checkpointEvery: 10, validateEvery: null });
    expect(settingsProblem({ ...settings, checkpointEvery: 0 })).toBe('checkpoint every must be an integer ≥ 1');
    // A cleared number input binds null.
    expect(settingsProblem({ ...settings, checkpointEvery: null as unknown as number })).toBe('checkpoint every must be an integer ≥ 1');
    expect(settingsProblem({ ...settings, validateEvery: 1.5 })).toBe('validate every must be empty or an integer ≥ 1');
    expect(settingsProblem({ ...settings, checkpointEvery: 1, validateEvery: 2 })).toBeNull();
    const { checkpointEvery: _c, validateEvery: _v, sampleEvery: _s, sampleQueries: _q, ...older } = { ...settings, maxSteps: 3 };
    const loaded = loadSettings({ getItem: () => JSON.stringify(older) });
    expect(loaded).toMatchObject({ maxSteps: 3, checkpointEvery: 10, validateEvery: null, sampleEvery: null, sampleQueries: 4 });
  });

  it('has samples off by default, four queries, and checks both numbers', () => {
    const settings = defaultSettings();
    expect(settings).toMatchObject({ sampleEvery: null, sampleQueries: 4 });
    expect(settingsProblem({ ...settings, sampleEvery: 0 })).toBe('sample every must be empty or an integer ≥ 1');
    expect(settingsProblem({ ...settings, sampleEvery: 2.5 })).toBe('sample every must be empty or an integer ≥ 1');
    expect(settingsProblem({ ...settings, sampleQueries: 0 })).toBe('sample queries must be an integer ≥ 1');
    // A cleared number input binds null.
    expect(settingsProblem({ ...settings, sampleQueries: null as unknown as number })).toBe('sample queries must be an integer ≥ 1');
    expect(settingsProblem({ ...settings, sampleEvery: 5, sampleQueries: 1 })).toBeNull();
    const kept = loadSettings({ getItem: () => JSON.stringify({ ...settings, sampleEvery: 5, sampleQueries: 2 }) });
    expect(kept).toMatchObject({ sampleEvery: 5, sampleQueries: 2 });
  });
});

describe('the form fields', () => {
  const fields = [...LORA_FIELDS, ...OPTIMIZER_FIELDS, ...SCHEDULE_FIELDS];

  it('each reads and writes its own number, with a line of help and the range of train-config', () => {
    const settings = defaultSettings();
    for (const f of fields) {
      expect(f.help.length).toBeGreaterThan(10);
      expect(fieldProblem(f, settings.config)).toBeNull();
      const other = defaultSettings().config;
      f.set(other, Number.NaN);
      // Only this field is wrong now, and the message names it.
      expect(fieldProblem(f, other)).toBe(`${f.path}: expected ${inputBounds(f.path).step === 1 ? 'an integer' : 'a number'} in ${fieldProblem(f, other)!.split(' in ')[1]}`);
      expect(fields.filter((g) => fieldProblem(g, other) !== null).map((g) => g.path)).toEqual([f.path]);
    }
    expect(inputBounds('lora.r')).toEqual({ min: 1, max: 1024, step: 1 });
    expect(inputBounds('optimizer.lr')).toEqual({ min: 0, max: 1, step: 'any' });
  });
});

describe('the recompute checkbox', () => {
  it('is on in the v4 preset (TRL\'s gradient checkpointing) and off in the quick one; each way survives a reload and a qmd-lab YAML round trip, and turning it back gives back the preset', () => {
    expect(RECOMPUTE_FIELD.get(presetSettings('v4').config)).toBe(true);
    expect(RECOMPUTE_FIELD.get(presetSettings('quick').config)).toBe(false);
    expect(RECOMPUTE_FIELD.help).toMatch(/one more forward per step .* far less activation memory/);
    const v4 = defaultSettings();
    RECOMPUTE_FIELD.set(v4.config, false);
    expect(v4.config.training.recompute).toBeUndefined();
    const v4Yaml = exportSettings(v4, 'qmd-lab', null).text;
    expect(v4Yaml).not.toContain('recompute');
    expect(RECOMPUTE_FIELD.get(importSettings(v4Yaml, 'ours.yaml', v4).settings.config)).toBe(false);
    RECOMPUTE_FIELD.set(v4.config, true);
    expect(v4.config).toEqual(defaultSettings().config);

    const settings = presetSettings('quick');
    RECOMPUTE_FIELD.set(settings.config, true);
    expect(settings.config.training.recompute).toBe(true);
    const saved = new Map<string, string>();
    storeSettings(settings, { setItem: (k, v) => void saved.set(k, v) });
    const loaded = loadSettings({ getItem: (k) => saved.get(k) ?? null });
    expect(RECOMPUTE_FIELD.get(loaded.config)).toBe(true);
    const yaml = exportSettings(loaded, 'qmd-lab', null).text;
    expect(yaml).toContain('  recompute: true\n');
    expect(importSettings(yaml, 'ours.yaml', loaded).settings.config).toEqual(loaded.config);

    RECOMPUTE_FIELD.set(loaded.config, false);
    // No key rather than false: the config is the preset's again, and so is its YAML.
    expect(loaded.config).toEqual(presetSettings('quick').config);
    expect(exportSettings(loaded, 'qmd-lab', null).text).not.toContain('recompute');
  });
});

describe('presets, import and export', () => {
  it('offers the v4 run and the quick first try', () => {
    expect(defaultSettings()).toMatchObject({ preset: 'v4', config: { training: { lossOn: 'all', epochs: 3 } } });
    expect(presetSettings('quick')).toMatchObject({ preset: 'quick', config: { lora: { r: 8 }, training: { epochs: 0.1, maxLength: 256 } } });
  });

  it("imports QMD's trainer config (keeping its base model for the way back) and exports either kind", () => {
    const current = { ...defaultSettings(), maxSteps: 5, sampleEvery: 3, sampleQueries: 2 };
    const { settings, kind, warnings } = importSettings(QMD_SFT_V2_8_3, 'sft.yaml', current);
    expect(kind).toBe("QMD's trainer config");
    // The page's own cadence is not in the file: the import keeps the form's.
    expect(settings).toMatchObject({ preset: 'imported', importedFrom: 'sft.yaml', qmdBase: 'Qwen/Qwen3-1.7B', maxSteps: 5, sampleEvery: 3, sampleQueries: 2 });
    expect(warnings[0]).toMatch(/^sft\.yaml:22: training\.learning_rate: PyYAML/);

    const theirs = exportSettings(settings, 'qmd-trainer', { ratio: 0.2, seed: 42 });
    expect(theirs.name).toBe('qmd-lab.yaml');
    expect(theirs.warnings).toEqual(["max steps 5: QMD's train.py sft has no max_steps; it trains 5 epochs"]);
    const back = parseQmdTrainerConfig(theirs.text);
    expect(back.base).toBe('Qwen/Qwen3-1.7B');
    expect(back.config).toEqual({ ...settings.config, eval: { split: 0.2, seed: 42 } });

    const ours = exportSettings(settings, 'qmd-lab', null);
    expect(parseTrainConfig(ours.text)).toEqual(settings.config);
    expect(importSettings(ours.text, 'ours.yaml', current)).toMatchObject({ kind: "qmd-lab's config", warnings: [], settings: { config: settings.config } });
    expect(() => importSettings('lora: 1', 'x.yaml', current)).toThrow('x.yaml:1: lora: expected a mapping');
  });
});
