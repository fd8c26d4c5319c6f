import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatQmdTrainerConfig, parseQmdTrainerConfig, pythonFloat, readTrainConfig } from './qmd-trainer-config.ts';
import { parseTrainConfig, type TrainConfig } from './train-config.ts';
import { QMD_SFT_V2_8_3, QMD_SFT_V4 } from '../testing/qmd-configs.ts';

const preset = (name: string) => parseTrainConfig(readFileSync(new URL(`../../configs/${name}`, import.meta.url), 'utf8'), `configs/${name}`);

describe("QMD's trainer config → TrainConfig", () => {
  it('reads the v4 run exactly as configs/sft.yaml holds it (whole-sequence loss, TRL defaults, split seed 42)', () => {
    const { config, base, warnings } = parseQmdTrainerConfig(QMD_SFT_V4, 'sft_v4.yaml');
    expect(config).toEqual(preset('sft.yaml'));
    expect(config.training.lossOn).toBe('all');
    expect(base).toBe('Qwen/Qwen3-0.6B');
    // PyYAML reads `2e-4` as the string "2e-4" (checked with PyYAML 6.0.3), which torch's AdamW refuses.
    expect(warnings[0]).toBe(
      "sft_v4.yaml:18: training.learning_rate: PyYAML, which QMD's train.py reads this file with, does not read 2e-4 as a number (YAML 1.1 needs a dot and a signed exponent: write 0.0002); qmd-lab reads 0.0002",
    );
    expect(warnings[1]).toBe(
      "sft_v4.yaml: kept for QMD's trainer, not used by qmd-lab (outputs, data, checkpoints, tracking): model.output (line 6), dataset.name (line 9), dataset.split (line 11), dataset.text_field (line 10), tracking.project (line 37), tracking.run_name (line 38)",
    );
    expect(warnings).toHaveLength(2);
  });

  it("reads QMD's current config (1.7B, 5 epochs, wall-clock checkpoints), naming the checkpoint keys it leaves", () => {
    const { config, base, warnings } = parseQmdTrainerConfig(QMD_SFT_V2_8_3, 'configs/sft.yaml');
    expect(base).toBe('Qwen/Qwen3-1.7B');
    expect(config).toEqual({ ...preset('sft.yaml'), training: { ...preset('sft.yaml').training, epochs: 5 } });
    expect(warnings[1]).toContain('training.save_interval_minutes (line 27), training.save_steps (line 29), training.save_total_limit (line 30)');
  });

  it('maps the Hugging Face schedules: constant_with_warmup is qmd-lab constant; "constant" drops the warmup, saying so', () => {
    const withScheduler = (name: string) => QMD_SFT_V4.replace('lr_scheduler: "cosine"', `lr_scheduler: "${name}"`);
    expect(parseQmdTrainerConfig(withScheduler('constant_with_warmup')).config.optimizer).toMatchObject({ schedule: 'constant', warmupRatio: 0.03 });
    const constant = parseQmdTrainerConfig(withScheduler('constant'), 'c.yaml');
    expect(constant.config.optimizer).toMatchObject({ schedule: 'constant', warmupRatio: 0 });
    expect(constant.warnings).toContain(`c.yaml:21: training.lr_scheduler: Hugging Face's "constant" schedule ignores warmup_ratio 0.03, so it is imported as 0 (write constant_with_warmup to warm up)`);
    expect(parseQmdTrainerConfig(withScheduler('linear')).config.optimizer.schedule).toBe('linear');
  });

  it('takes PEFT\'s "all-linear" as every projection, and a list in any order as qmd-lab\'s order', () => {
    const all = QMD_SFT_V4.replace(/target_modules:\n(?: {4}- .*\n)+/, 'target_modules: "all-linear"\n');
    expect(parseQmdTrainerConfig(all).config.lora.targets).toEqual(preset('sft.yaml').lora.targets);
    const two = QMD_SFT_V4.replace(/target_modules:\n(?: {4}- .*\n)+/, 'target_modules: [v_proj, q_proj]\n');
    expect(parseQmdTrainerConfig(two).config.lora.targets).toEqual(['q_proj', 'v_proj']);
  });
});

describe('TrainConfig → QMD trainer config', () => {
  it.each(['sft.yaml', 'sft-quick.yaml'])('round-trips configs/%s through QMD\'s format with nothing to warn about', (name) => {
    const config = preset(name);
    const { text, warnings } = formatQmdTrainerConfig(config, { base: 'Qwen/Qwen3-0.6B' });
    expect(warnings).toEqual([]);
    const back = parseQmdTrainerConfig(text, 'export.yaml');
    // QMD's trainer always runs TRL's gradient checkpointing: read back, recompute is on (the same gradients).
    expect(back.config).toEqual({ ...config, training: { ...config.training, recompute: true } });
    expect(back.base).toBe('Qwen/Qwen3-0.6B');
    // Every number is one PyYAML reads as a number: no warning but the unused-keys line.
    expect(back.warnings).toHaveLength(1);
    expect(back.warnings[0]).toMatch(/^export\.yaml: kept for QMD's trainer/);
  });

  it("writes QMD's layout and key names, numbers as PyYAML floats, and reads back QMD's file to the same settings", () => {
    const { config } = parseQmdTrainerConfig(QMD_SFT_V2_8_3);
    const { text } = formatQmdTrainerConfig(config, { base: 'Qwen/Qwen3-1.7B', runName: 'sft "1.7B"' });
    expect(text).toContain('training:\n  epochs: 5\n  batch_size: 4\n  gradient_accumulation_steps: 4\n  learning_rate: 0.0002\n  max_length: 512\n  warmup_ratio: 0.03\n  lr_scheduler: "cosine"\n');
    expect(text).toContain('lora:\n  rank: 16\n  alpha: 32\n  dropout: 0.0\n  target_modules:\n    - "q_proj"\n');
    expect(text).toContain('dataset:\n  name: "data/train/"\n  text_field: "text"\n  split: "train"\n  eval_split: 0.1\n');
    expect(text).toContain('run_name: "sft \\"1.7B\\""');
    expect(parseQmdTrainerConfig(text).config).toEqual(config);
  });

  it('says what QMD\'s file cannot hold, writes constant-with-warmup for a warmed-up constant rate, and refuses no eval split', () => {
    const c = preset('sft.yaml');
    const odd: TrainConfig = {
      ...c,
      lora: { ...c.lora, rslora: true },
      optimizer: { ...c.optimizer, schedule: 'constant', maxGradNorm: 0.5 },
      training: { ...c.training, lossOn: 'completion', seed: 7 },
      promptFormat: 'qmd-1.7b',
    };
    const { text, warnings } = formatQmdTrainerConfig(odd, { base: 'Qwen/Qwen3-0.6B', maxSteps: 20 });
    expect(text).toContain('lr_scheduler: "constant_with_warmup"');
    expect(warnings).toEqual([
      "lora.rslora true has no key in QMD's trainer config: its train.py uses false",
      "optimizer.max_grad_norm 0.5 has no key in QMD's trainer config: its train.py uses 1",
      "training.seed 7 has no key in QMD's trainer config: its train.py uses 42",
      "training.loss_on completion: QMD's train.py trains its text/messages rows over the whole sequence (TRL has no completion-only loss for them)",
      'prompt_format qmd-1.7b: the prompt is in the data, not the config; export the dataset with the same format',
      "max steps 20: QMD's train.py sft has no max_steps; it trains 3 epochs",
    ]);
    expect(() => formatQmdTrainerConfig({ ...c, eval: { ...c.eval, split: 0 } }, { base: 'x' })).toThrow(/eval\.split is 0: QMD's train\.py always holds out an eval split/);
  });

  it('writes floats PyYAML reads as floats (each checked with PyYAML 6.0.3 safe_load)', () => {
    expect([2e-4, 1e-8, 0, 0.03, 2e21, 1.5e-7, 0.1].map(pythonFloat)).toEqual(['0.0002', '1.0e-8', '0.0', '0.03', '2.0e+21', '1.5e-7', '0.1']);
  });
});

describe('readTrainConfig: either kind, told apart by its sections', () => {
  it("reads qmd-lab's presets as qmd-lab's and QMD's file as QMD's", () => {
    const ours = readTrainConfig(readFileSync(new URL('../../configs/sft-quick.yaml', import.meta.url), 'utf8'), 'q.yaml');
    expect(ours).toEqual({ kind: 'qmd-lab', config: preset('sft-quick.yaml'), warnings: [] });
    const theirs = readTrainConfig(QMD_SFT_V4, 'v4.yaml');
    expect(theirs.kind).toBe('qmd-trainer');
    expect(theirs.base).toBe('Qwen/Qwen3-0.6B');
    expect(theirs.config).toEqual(preset('sft.yaml'));
  });

  it("refuses a file that mixes the two kinds, at the first foreign section", () => {
    const mixed = `${readFileSync(new URL('../../configs/sft.yaml', import.meta.url), 'utf8')}model:\n  base: "Qwen/Qwen3-0.6B"\n`;
    expect(() => readTrainConfig(mixed, 'm.yaml')).toThrow(/^m\.yaml:29: model: a section of QMD's own trainer config, which is read from a file without optimizer, eval and prompt_format/);
  });
});
