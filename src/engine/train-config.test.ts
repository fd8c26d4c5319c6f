import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../model/random.ts';
import { formatTrainConfig, learningRate, parseTrainConfig, totalSteps, trainConfigProblem, type TrainConfig } from './train-config.ts';

const sftText = readFileSync(new URL('../../configs/sft.yaml', import.meta.url), 'utf8');

describe('configs/sft.yaml', () => {
  it('holds the reference SFT v4 settings, the loss over the whole sequence as TRL trained it', () => {
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
    expect(c.training).toMatchObject({ epochs: 3, batchSize: 4, gradAccum: 4, maxLength: 512, lossOn: 'all' });
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

describe('configs/sft-quick.yaml', () => {
  it('is a short first try: a tenth of an epoch, r 8 on attention, length 256, the same loss scope and split', () => {
    const quick = parseTrainConfig(readFileSync(new URL('../../configs/sft-quick.yaml', import.meta.url), 'utf8'), 'configs/sft-quick.yaml');
    expect(quick.lora).toMatchObject({ r: 8, alpha: 16, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] });
    expect(quick.training).toMatchObject({ epochs: 0.1, batchSize: 4, gradAccum: 1, maxLength: 256, lossOn: 'all' });
    // QMD's 5,730 rows less the 10 % split, as its header says.
    expect(totalSteps(quick, 5157)).toBe(129);
  });
});

describe('formatTrainConfig', () => {
  it('writes a config parseTrainConfig reads back to an equal object, presets and random valid settings alike', () => {
    const base = parseTrainConfig(sftText);
    expect(parseTrainConfig(formatTrainConfig(base))).toEqual(base);
    const random = seededRandom(5);
    const pick = <T>(items: readonly T[]) => items[Math.floor(random.uniform() * items.length)]!;
    for (let i = 0; i < 50; i++) {
      const c: TrainConfig = {
        lora: { r: 1 + Math.floor(random.uniform() * 64), alpha: random.uniform() * 100 + 1e-3, dropout: random.uniform() * 0.5, rslora: random.uniform() < 0.5, targets: [pick(base.lora.targets)] },
        optimizer: { ...base.optimizer, lr: random.uniform() * 1e-3 + 1e-9, schedule: pick(['cosine', 'linear', 'constant'] as const), warmupRatio: random.uniform() * 0.2, eps: 1e-12 },
        training: { epochs: random.uniform() * 5 + 0.01, batchSize: 1 + Math.floor(random.uniform() * 8), gradAccum: 3, maxLength: 64, lossOn: pick(['all', 'completion'] as const), seed: Math.floor(random.uniform() * 2 ** 32) },
        eval: { split: random.uniform() * 0.5, seed: 7 },
        promptFormat: pick(['qmd-v4', 'qmd-1.7b']),
      };
      expect(trainConfigProblem(c)).toBeNull();
      expect(parseTrainConfig(formatTrainConfig(c), 'random.yaml')).toEqual(c);
    }
  });

  it('refuses to write settings out of range, naming the field', () => {
    const c = parseTrainConfig(sftText);
    expect(() => formatTrainConfig({ ...c, training: { ...c.training, batchSize: 0 } })).toThrow('formatTrainConfig: training.batch_size: expected an integer in [1, 1024], got 0');
    expect(() => formatTrainConfig({ ...c, lora: { ...c.lora, targets: ['q_proj', 'x' as 'q_proj'] } })).toThrow('formatTrainConfig: lora.targets.1: expected one of q_proj');
    expect(() => formatTrainConfig({ ...c, training: { ...c.training, lossOn: 'prompt' as 'all' } })).toThrow('training.loss_on: expected one of all, completion, got "prompt"');
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
