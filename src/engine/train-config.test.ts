import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { learningRate, parseTrainConfig, totalSteps } from './train-config.ts';

const sftText = readFileSync(new URL('../../configs/sft.yaml', import.meta.url), 'utf8');

describe('configs/sft.yaml', () => {
  it('holds the reference SFT v4 settings', () => {
    const c = parseTrainConfig(sftText, 'configs/sft.yaml');
    expect(c.lora).toEqual({
      r: 16,
      alpha: 32,
      dropout: 0,
      rslora: false,
      targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
    });
    expect(c.optimizer.lr).toBe(2e-4);
    expect(c.optimizer.schedule).toBe('cosine');
    expect(c.optimizer.warmupRatio).toBe(0.03);
    expect(c.training).toMatchObject({ epochs: 3, batchSize: 4, gradAccum: 4, maxLength: 512, lossOn: 'completion' });
    expect(c.eval).toEqual({ split: 0.1, seed: 42 });
    // 5,730 rows less the 10 % eval split, 16 rows per optimizer step, 3 epochs.
    expect(totalSteps(c, 5157)).toBe(3 * 323);
  });

  it('names file, line and field of a bad value', () => {
    const bad = sftText.replace('r: 16', 'r: 0');
    expect(() => parseTrainConfig(bad, 'configs/sft.yaml')).toThrow('configs/sft.yaml:4: lora.r: expected an integer in [1, 1024], got 0');
    const badTarget = sftText.replace('gate_proj,', 'gate,');
    expect(() => parseTrainConfig(badTarget, 'x.yaml')).toThrow(/x\.yaml:8: lora\.targets\.4: expected one of q_proj/);
    const missing = sftText.replace(/ {2}eps: .*\n/, '');
    expect(() => parseTrainConfig(missing, 'x.yaml')).toThrow('x.yaml: optimizer.eps: missing');
  });
});

describe('learning-rate schedule', () => {
  const o = parseTrainConfig(sftText).optimizer;

  it('warms up linearly over ⌈3 %⌉ of the steps, then decays by a half cosine to 0', () => {
    const total = 100; // warmup = 3 steps
    expect(learningRate(o, 0, total)).toBe(0);
    expect(learningRate(o, 1, total)).toBeCloseTo(2e-4 / 3, 15);
    expect(learningRate(o, 3, total)).toBeCloseTo(2e-4, 15);
    // cos is odd around the middle of the decay (step 3 + 97/2 = 51.5)
    expect(learningRate(o, 51, total) + learningRate(o, 52, total)).toBeCloseTo(2e-4, 12);
    expect(learningRate(o, 100, total)).toBeCloseTo(0, 15);
    for (let s = 4; s <= total; s++) expect(learningRate(o, s, total)).toBeLessThan(learningRate(o, s - 1, total));
  });

  it('supports linear and constant decay', () => {
    expect(learningRate({ ...o, schedule: 'linear' }, 3 + 97 / 2, 100)).toBeCloseTo(1e-4, 15);
    expect(learningRate({ ...o, schedule: 'constant' }, 80, 100)).toBe(2e-4);
  });
});
