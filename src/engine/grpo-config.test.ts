// configs/grpo.yaml's drift_guard section and the grpo keys a run adds to the dry step's (sampling,
// reward weights): read with their defaults, refused with the file, line and key.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_GUARD, parseGrpoConfig, readGrpoConfig } from './grpo-config.ts';

const yaml = readFileSync(new URL('../../configs/grpo.yaml', import.meta.url), 'utf8');
const guardSection = /^drift_guard:[\s\S]*$/m;

describe('readGrpoConfig', () => {
  it("reads the drift guard, sampling and reward weights of configs/grpo.yaml", () => {
    const { config, guard } = readGrpoConfig(yaml, 'configs/grpo.yaml');
    expect(guard).toEqual({ maxHardFailRate: 0.25, windowGroups: 8, maxKl: 1 });
    expect(guard).toEqual(DEFAULT_GUARD);
    expect(config.grpo).toMatchObject({ topK: 0, topP: 1, rewardWeights: { reward: 1, eval: 0 } });
    // parseGrpoConfig is the same settings without the guard (what a form or a checkpoint keeps).
    expect(parseGrpoConfig(yaml, 'g.yaml')).toEqual(config);
  });

  it('leaves out what a file leaves out: no drift_guard section, some of its keys, top_k, top_p, reward_weights', () => {
    const bare = yaml.replace(guardSection, '').replace(/^ {2}(top_k|top_p|reward_weights):.*\n/gm, '');
    const { config, guard } = readGrpoConfig(bare, 'g.yaml');
    expect(guard).toEqual(DEFAULT_GUARD);
    expect(config.grpo).toMatchObject({ topK: 0, topP: 1, rewardWeights: { reward: 1, eval: 0 } });
    const partial = yaml.replace(guardSection, 'drift_guard:\n  max_kl: 0.5\n');
    expect(readGrpoConfig(partial, 'g.yaml').guard).toEqual({ ...DEFAULT_GUARD, maxKl: 0.5 });
    const weighted = yaml.replace('reward_weights: { reward: 1.0, eval: 0.0 }', 'reward_weights: { eval: 2 }');
    expect(readGrpoConfig(weighted, 'g.yaml').config.grpo.rewardWeights).toEqual({ reward: 0, eval: 2 });
  });

  it('refuses bad values with the line and key, and keeps the lines of the sections after the blanked ones', () => {
    const bad: [string, string, RegExp][] = [
      ['max_hard_fail_rate: 0.25', 'max_hard_fail_rate: 1.5', /^g\.yaml:46: drift_guard\.max_hard_fail_rate: expected a number in \[0, 1\], got 1\.5$/],
      ['window_groups: 8', 'window_groups: 2.5', /^g\.yaml:47: drift_guard\.window_groups: expected an integer in \[1, 1000000\], got 2\.5$/],
      ['max_kl: 1.0', 'max_kl: 0', /^g\.yaml:48: drift_guard\.max_kl: expected a number in \(0, 1000000\], got 0$/],
      ['max_kl: 1.0', 'max_kll: 1.0', /^g\.yaml:48: drift_guard\.max_kll: unknown key; the closest known one is max_kl/],
      ['top_k: 0', 'top_k: -1', /^g\.yaml:38: grpo\.top_k: expected an integer in \[0, 1000000\], got -1$/],
      ['top_p: 1.0', 'top_p: 0', /^g\.yaml:39: grpo\.top_p: expected a number in \(0, 1\], got 0$/],
      ['{ reward: 1.0, eval: 0.0 }', '{ reward: 0, eval: 0 }', /^g\.yaml:44: grpo\.reward_weights: both weights are 0/],
      ['{ reward: 1.0, eval: 0.0 }', '{ reward: 1, format: 1 }', /^g\.yaml:44: grpo\.reward_weights\.format: unknown key \(expected reward and eval/],
      ['{ reward: 1.0, eval: 0.0 }', '{ reward: -1 }', /^g\.yaml:44: grpo\.reward_weights\.reward: expected a number in \[0, 1000\], got -1$/],
      ['{ reward: 1.0, eval: 0.0 }', '0.5', /^g\.yaml:44: grpo\.reward_weights: expected a mapping \{reward: number, eval: number\}, got 0\.5$/],
    ];
    for (const [from, to, message] of bad) expect(() => readGrpoConfig(yaml.replace(from, to), 'g.yaml'), to).toThrow(message);
    expect(() => readGrpoConfig(yaml.replace(guardSection, 'drift_guard: 3\n'), 'g.yaml')).toThrow(/^g\.yaml:45: drift_guard: expected a mapping with the keys max_hard_fail_rate, window_groups, max_kl$/);
    // A training key after both blanked sections keeps its own line.
    expect(() => readGrpoConfig(`${yaml}\nextra: 1\n`, 'g.yaml')).toThrow(/^g\.yaml:50: extra: unknown key/);
  });
});
