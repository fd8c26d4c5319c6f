// Hostile training configs: non-finite and out-of-range numbers, misspelt and foreign keys,
// oversized documents. Each is refused naming file, line, key, value and what was expected.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../model/random.ts';
import { TRAIN_CONFIG_KEYS } from './train-config-keys.ts';
import { parseTrainConfig, TRAIN_LIMITS, trainConfigProblem, type TrainConfig } from './train-config.ts';

const sft = readFileSync(new URL('../../configs/sft.yaml', import.meta.url), 'utf8');
const with_ = (from: string, to: string) => {
  expect(sft).toContain(from);
  return sft.replace(from, to);
};

describe('numbers are finite and in range', () => {
  it.each([
    ['lr: 2.0e-4', 'lr: .inf', 'x.yaml:10: optimizer.lr: expected a number in (0, 1], got Infinity'],
    ['lr: 2.0e-4', 'lr: -.inf', 'x.yaml:10: optimizer.lr: expected a number in (0, 1], got -Infinity'],
    ['lr: 2.0e-4', 'lr: .nan', 'x.yaml:10: optimizer.lr: expected a number in (0, 1], got NaN'],
    ['lr: 2.0e-4', 'lr: 10', 'optimizer.lr: expected a number in (0, 1], got 10'],
    ['alpha: 32', 'alpha: 1e38', 'x.yaml:5: lora.alpha: expected a number in (0, 10000], got 1e+38'],
    ['r: 16', 'r: 100000', 'x.yaml:4: lora.r: expected an integer in [1, 1024], got 100000'],
    ['eps: 1.0e-8', 'eps: .inf', 'optimizer.eps: expected a number in (0, 1], got Infinity'],
    ['weight_decay: 0.0', 'weight_decay: 5', 'optimizer.weight_decay: expected a number in [0, 1], got 5'],
    ['max_grad_norm: 1.0', 'max_grad_norm: .nan', 'optimizer.max_grad_norm: expected a number in [0, 1000000], got NaN'],
    ['epochs: 3', 'epochs: .inf', 'training.epochs: expected a number in (0, 1000], got Infinity'],
    ['batch_size: 4', 'batch_size: 1e9', 'training.batch_size: expected an integer in [1, 1024], got 1000000000'],
    ['max_length: 512', 'max_length: 1e12', 'training.max_length: expected an integer in [2, 131072], got 1000000000000'],
    ['seed: 42\neval', 'seed: 4294967296\neval', 'training.seed: expected an integer in [0, 4294967295], got 4294967296'],
    ['split: 0.1', 'split: "0.1"', 'eval.split: expected a number in [0, 1), got "0.1"'],
    ['betas: [0.9, 0.999]', 'betas: [0.9, .inf]', 'optimizer.betas.1: expected a number in [0, 1), got Infinity'],
  ])('%s → %s is refused', (from, to, message) => {
    expect(() => parseTrainConfig(with_(from, to), 'x.yaml')).toThrow(message);
  });

  it('holds the TrainConfig objects the page builds to the same ranges', () => {
    const config = parseTrainConfig(sft);
    expect(trainConfigProblem(config)).toBeNull();
    const bad: TrainConfig = { ...config, optimizer: { ...config.optimizer, lr: Infinity } };
    expect(trainConfigProblem(bad)).toBe('optimizer.lr: expected a number in (0, 1], got Infinity');
    expect(trainConfigProblem({ ...config, training: { ...config.training, batchSize: Number.NaN } })).toBe('training.batch_size: expected an integer in [1, 1024], got NaN');
  });
});

describe('every key is one the parser reads', () => {
  it.each([
    ['batch_size: 4', 'bacth_size: 4', 'x.yaml:19: training.bacth_size: unknown key; the closest known one is batch_size (known keys under training: epochs, batch_size, grad_accum, max_length, micro_batch_tokens, recompute, loss_on, seed)'],
    ['seed: 42\neval', 'seed: 42\n  gradient_checkpointing: true\neval', "x.yaml:25: training.gradient_checkpointing: not read: this file calls that setting training.recompute"],
    ['seed: 42\neval', 'seed: 42\n  learning_rate: 1e-4\neval', 'training.learning_rate: not read: this file calls that setting optimizer.lr'],
    ['r: 16', 'rank: 16', 'x.yaml:4: lora.rank: not read: this file calls that setting lora.r'],
    ['seed: 42\neval', 'seed: 42\n  warmup_ratio: 0.1\neval', 'training.warmup_ratio: not read here: it belongs under optimizer (optimizer.warmup_ratio)'],
    ['prompt_format: qmd-v4', 'prompt_format: qmd-v4\nmodel:\n  base: Qwen/Qwen3-0.6B', "x.yaml:29: model: a section of QMD's own trainer config, which is read from a file without optimizer, eval and prompt_format: keep the two kinds in separate files (known keys at the top level: lora, optimizer, training, eval, prompt_format)"],
    ['prompt_format: qmd-v4', 'prompt_formt: qmd-v4', 'x.yaml:28: prompt_formt: unknown key; the closest known one is prompt_format'],
    ['eval:\n  split: 0.1\n  seed: 42', 'eval: 0.1', 'x.yaml:25: eval: expected a mapping with the keys split, seed'],
  ])('%s → %s', (from, to, message) => {
    expect(() => parseTrainConfig(with_(from, to), 'x.yaml')).toThrow(message);
  });

  it('quotes an odd key, cut short, and refuses a document that is not a mapping', () => {
    // YAML itself refuses implicit keys over 1,024 characters.
    const long = 'k'.repeat(1000);
    const message = (() => {
      try {
        parseTrainConfig(with_('r: 16', `${long}: 16`), 'x.yaml');
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message).toContain('(1002 characters)');
    expect(message!.length).toBeLessThan(400);
    expect(() => parseTrainConfig('- a\n- b\n', 'x.yaml')).toThrow('x.yaml:1: expected a mapping with the keys lora, optimizer, training, eval, prompt_format');
    expect(() => parseTrainConfig('', 'x.yaml')).toThrow('x.yaml: expected a mapping');
  });
});

describe('bounded work', () => {
  it('refuses an oversized document before parsing it, and YAML alias bombs through the parser', () => {
    const big = `${sft}\n#${'x'.repeat(1_000_000)}`;
    expect(() => parseTrainConfig(big, 'x.yaml')).toThrow(`x.yaml: ${big.length} characters is over the 1000000 a training config may have`);
    // Nine levels of ten aliases each would expand to 10⁹ strings under a key the parser reads.
    const letter = (i: number) => String.fromCharCode(97 + i);
    const levels = ['&a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `&${letter(i + 1)} [${Array(10).fill(`*${letter(i)}`).join(', ')}]`)];
    expect(() => parseTrainConfig(with_('prompt_format: qmd-v4', `prompt_format: [${levels.join(', ')}]`), 'x.yaml')).toThrow(
      'x.yaml: Excessive alias count indicates a resource exhaustion attack',
    );
  });

  it('random mutations of configs/sft.yaml give a clear error or a config inside every range', () => {
    const random = seededRandom(11);
    const lines = sft.split('\n');
    const values = ['.inf', '-.inf', '.nan', '0', '-1', '1e9', '2.5', '"4"', 'null', 'true', '[]', '{}', '~', 'abc', '0x10', '1e-300'];
    const keys = Object.values(TRAIN_CONFIG_KEYS).flatMap((k) => k ?? []);
    let refused = 0;
    for (let i = 0; i < 400; i++) {
      const mutated = [...lines];
      for (let k = 0; k < 1 + Math.floor(random.uniform() * 2); k++) {
        const at = Math.floor(random.uniform() * mutated.length);
        const line = mutated[at]!;
        const colon = line.indexOf(': ');
        if (colon < 0 || line.trimStart().startsWith('#')) continue;
        // Replace a value, or misspell its key.
        mutated[at] = random.uniform() < 0.8
          ? `${line.slice(0, colon)}: ${values[Math.floor(random.uniform() * values.length)]}`
          : `${line.slice(0, colon)}x${line.slice(colon)}`;
      }
      let config: TrainConfig;
      try {
        config = parseTrainConfig(mutated.join('\n'), 'm.yaml');
      } catch (error) {
        refused++;
        const message = (error as Error).message;
        expect(message.startsWith('m.yaml')).toBe(true);
        expect(message.length).toBeLessThan(500);
        if (!/^m\.yaml(:\d+)?: /.test(message)) throw new Error(`no file/line prefix: ${message}`);
        expect(keys.some((key) => message.includes(key)) || /mapping|unknown|Implicit|Nested|YAML|must/.test(message)).toBe(true);
        continue;
      }
      expect(trainConfigProblem(config)).toBeNull();
      expect(config.training.maxLength).toBeLessThanOrEqual(TRAIN_LIMITS.maxLength);
    }
    expect(refused).toBeGreaterThan(200);
  });
});
