// Hostile QMD trainer configs: misspelt, foreign and missing keys, values out of range or that
// qmd-lab cannot follow, alias bombs and oversized files. Each is refused naming file, line, key,
// value and what was expected; random mutations give that or a config inside every range.
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../model/random.ts';
import { QMD_SFT_V2_8_3 } from '../testing/qmd-configs.ts';
import { parseQmdTrainerConfig, QMD_TRAINER_KEYS, readTrainConfig } from './qmd-trainer-config.ts';
import { trainConfigProblem } from './train-config.ts';

const with_ = (from: string, to: string) => {
  expect(QMD_SFT_V2_8_3).toContain(from);
  return QMD_SFT_V2_8_3.replace(from, to);
};

describe('keys QMD\'s train.py does not read', () => {
  it.each([
    ['learning_rate: 2e-4', 'learning_rat: 2e-4', "q.yaml:22: training.learning_rat: unknown key; the closest known one is learning_rate (keys QMD's train.py reads under training: epochs, batch_size,"],
    ['rank: 16', 'r: 16', "q.yaml:33: lora.r: qmd-lab's name; QMD's trainer calls it lora.rank"],
    ['learning_rate: 2e-4', 'lr: 2e-4', "q.yaml:22: training.lr: qmd-lab's name; QMD's trainer calls it training.learning_rate"],
    ['tracking:', 'grpo:\n  beta: 0.04\ntracking:', "q.yaml:45: grpo: QMD's GRPO settings: qmd-lab trains SFT only"],
    ['tracking:', 'trackin:', "q.yaml:45: trackin: not a section QMD's train.py reads; the closest is tracking"],
    ['lora:\n  rank: 16', 'lora: 16\nx:\n  rank: 16', 'q.yaml:32: lora: expected a mapping with the keys rank, alpha, dropout, target_modules'],
  ])('%s → %s', (from, to, message) => {
    expect(() => parseQmdTrainerConfig(with_(from, to), 'q.yaml')).toThrow(message);
  });

  it('names a missing key the way train.py indexes it', () => {
    expect(() => parseQmdTrainerConfig(with_('  max_length: 512\n', ''), 'q.yaml')).toThrow(`q.yaml: training.max_length: missing (QMD's train.py reads cfg["training"]["max_length"])`);
    expect(() => parseQmdTrainerConfig(with_('  base: "Qwen/Qwen3-1.7B"\n', ''), 'q.yaml')).toThrow('q.yaml: model.base: missing');
    expect(() => parseQmdTrainerConfig(with_('  base: "Qwen/Qwen3-1.7B"', '  base: 7'), 'q.yaml')).toThrow('q.yaml:7: model.base: expected the base model');
  });
});

describe("values out of qmd-lab's ranges, or that it cannot follow", () => {
  it.each([
    ['learning_rate: 2e-4', 'learning_rate: .inf', 'q.yaml:22: training.learning_rate: expected a number in (0, 1], got Infinity'],
    ['learning_rate: 2e-4', 'learning_rate: "2e-4"', 'q.yaml:22: training.learning_rate: expected a number in (0, 1], got "2e-4"'],
    ['rank: 16', 'rank: 16.5', 'q.yaml:33: lora.rank: expected an integer in [1, 1024], got 16.5'],
    ['alpha: 32', 'alpha: 1e38', 'q.yaml:34: lora.alpha: expected a number in (0, 10000], got 1e+38'],
    ['batch_size: 4', 'batch_size: -4', 'q.yaml:20: training.batch_size: expected an integer in [1, 1024], got -4'],
    ['max_length: 512', 'max_length: 1e12', 'q.yaml:23: training.max_length: expected an integer in [2, 131072], got 1000000000000'],
    ['eval_split: 0.1', 'eval_split: 1', 'q.yaml:16: dataset.eval_split: expected a number in [0, 1), got 1'],
    ['eval_split: 0.1', 'eval_split: 0', 'q.yaml:16: dataset.eval_split: expected a share in (0, 1)'],
    ['lr_scheduler: "cosine"', 'lr_scheduler: "polynomial"', 'q.yaml:25: training.lr_scheduler: expected one of cosine, linear, constant_with_warmup, constant (the Hugging Face schedules qmd-lab implements), got "polynomial"'],
    ['    - "gate_proj"', '    - "mlp.*"', 'q.yaml:41: lora.target_modules.4: expected one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, got "mlp.*"'],
    ['    - "gate_proj"', '    - "q_proj"', 'q.yaml:37: lora.target_modules: lists a module twice'],
  ])('%s → %s is refused', (from, to, message) => {
    expect(() => parseQmdTrainerConfig(with_(from, to), 'q.yaml')).toThrow(message);
  });
});

describe('bounded work', () => {
  it('refuses an oversized file before parsing it, and YAML alias bombs through the parser', () => {
    const big = `${QMD_SFT_V2_8_3}#${'x'.repeat(1_000_000)}`;
    expect(() => readTrainConfig(big, 'q.yaml')).toThrow(`q.yaml: ${big.length} characters is over the 1000000 a training config may have`);
    const letter = (i: number) => String.fromCharCode(97 + i);
    const levels = ['&a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `&${letter(i + 1)} [${Array(10).fill(`*${letter(i)}`).join(', ')}]`)];
    expect(() => readTrainConfig(with_('run_name: "sft-1.7B"', `run_name: [${levels.join(', ')}]`), 'q.yaml')).toThrow('q.yaml: Excessive alias count indicates a resource exhaustion attack');
  });

  it("random mutations of QMD's config give a clear error or a config inside every range", () => {
    const random = seededRandom(23);
    const lines = QMD_SFT_V2_8_3.split('\n');
    const values = ['.inf', '-.inf', '.nan', '0', '-1', '1e9', '2.5', '"4"', 'null', 'true', '[]', '{}', '~', 'abc', '0x10', '1e-300', '"all-linear"'];
    const keys = Object.entries(QMD_TRAINER_KEYS).flatMap(([section, ks]) => [section, ...ks]);
    let refused = 0;
    for (let i = 0; i < 400; i++) {
      const mutated = [...lines];
      for (let k = 0; k < 1 + Math.floor(random.uniform() * 2); k++) {
        const at = Math.floor(random.uniform() * mutated.length);
        const line = mutated[at]!;
        const colon = line.indexOf(':');
        if (colon < 0 || line.trimStart().startsWith('#')) continue;
        mutated[at] = random.uniform() < 0.8
          ? `${line.slice(0, colon)}: ${values[Math.floor(random.uniform() * values.length)]}`
          : `${line.slice(0, colon)}x${line.slice(colon)}`;
      }
      let result;
      try {
        result = readTrainConfig(mutated.join('\n'), 'm.yaml');
      } catch (error) {
        refused++;
        const message = (error as Error).message;
        if (!/^m\.yaml(:\d+)?: /.test(message)) throw new Error(`no file/line prefix: ${message}`);
        expect(message.length).toBeLessThan(500);
        expect(keys.some((key) => message.includes(key)) || /mapping|YAML|Implicit|Nested|must/.test(message)).toBe(true);
        continue;
      }
      expect(trainConfigProblem(result.config)).toBeNull();
      for (const warning of result.warnings) expect(warning.length).toBeLessThan(1000);
    }
    expect(refused).toBeGreaterThan(150);
  });
});
