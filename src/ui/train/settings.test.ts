import { describe, expect, it } from 'vitest';
import { defaultSettings, settingsProblem } from './settings.ts';

describe('settingsProblem', () => {
  it("passes configs/sft.yaml's defaults and refuses what the engine's ranges refuse, such as a learning rate of 1e999", () => {
    const settings = defaultSettings();
    expect(settingsProblem(settings)).toBeNull();
    const c = settings.config;
    expect(settingsProblem({ ...settings, config: { ...c, optimizer: { ...c.optimizer, lr: Number('1e999') } } })).toBe('optimizer.lr: expected a number in (0, 1], got Infinity');
    expect(settingsProblem({ ...settings, config: { ...c, training: { ...c.training, epochs: Infinity } } })).toBe('training.epochs: expected a number in (0, 1000], got Infinity');
  });
});
