// The Train page's settings form without a model: presets, a field's help and its validation from
// train-config's ranges, the loss scope said plainly, a QMD trainer config imported (its warnings
// shown) and the settings exported as QMD's file, all from the keyboard where a user types; with a
// model loaded, unticking "recompute layers" (on in the v4 preset) raises the memory estimate.
import { writeFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { test, expect } from '@playwright/test';
import { parseQmdTrainerConfig } from '../src/engine/qmd-trainer-config.ts';
import { QMD_SFT_V4 } from '../src/testing/qmd-configs.ts';
import { loadTrainModel, useTrainFixture } from './support/train.ts';

// The v4 run's config with two LoRA targets, so that the export shows the imported ones.
const QMD_V4 = QMD_SFT_V4.replace(/target_modules:\n(    - .*\n)+/, 'target_modules: ["q_proj", "v_proj"]\n');

test('presets, per-field help and validation, loss scope, QMD config import and export', async ({ page }) => {
  const dir = await mkdtemp(join(tmpdir(), 'qmd-train-settings-'));
  try {
    await page.goto('./#/train');
    const rank = page.getByTestId('train-rank');
    await expect(rank).toHaveValue('16');
    await expect(page.getByTestId('train-loss-all')).toBeChecked();
    await expect(page.getByText("whole sequence (as QMD's v4 run)")).toBeVisible();

    await page.getByTestId('train-preset').selectOption('quick');
    await expect(rank).toHaveValue('8');
    await expect(page.getByTestId('train-max-length')).toHaveValue('256');

    // A value out of train-config's range is named under its field, and the field is marked invalid.
    await rank.focus();
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type('5000');
    await expect(rank).toHaveAttribute('aria-invalid', 'true');
    await expect(page.getByTestId('train-field-problem')).toHaveText('lora.r: expected an integer in [1, 1024], got 5000');
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type('4');
    await expect(page.getByTestId('train-field-problem')).toHaveCount(0);

    // Completion-only from the keyboard: arrow keys move within the radio group.
    await page.getByTestId('train-loss-all').focus();
    await page.keyboard.press('ArrowDown');
    await expect(page.getByTestId('train-loss-completion')).toBeChecked();

    const file = join(dir, 'sft_v4.yaml');
    expect(QMD_V4).not.toBe(QMD_SFT_V4);
    await writeFile(file, QMD_V4);
    await page.getByTestId('train-import-yaml').setInputFiles(file);
    await expect(page.getByTestId('train-file-note')).toContainText("Imported sft_v4.yaml as QMD's trainer config.");
    await expect(page.getByTestId('train-file-warnings')).toContainText('sft_v4.yaml:18: training.learning_rate: PyYAML');
    await expect(page.getByTestId('train-preset')).toHaveValue('imported');
    await expect(rank).toHaveValue('16');
    await expect(page.getByTestId('train-loss-all')).toBeChecked();

    const download = page.waitForEvent('download');
    await page.getByTestId('train-export-qmd').click();
    const exported = await readFile((await (await download).path())!, 'utf8');
    const back = parseQmdTrainerConfig(exported);
    expect(back.base).toBe('Qwen/Qwen3-0.6B');
    expect(back.config.lora).toMatchObject({ r: 16, alpha: 32, targets: ['q_proj', 'v_proj'] });
    expect(back.config.optimizer.lr).toBe(2e-4);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a dataset exports for QMD's trainer: data/train/ as prepare_data.py writes it and configs/qmd-lab.yaml, in one zip", async ({ page }) => {
  const dir = await mkdtemp(join(tmpdir(), 'qmd-export-qmd-'));
  try {
    const rows = Array.from({ length: 10 }, (_, i) => ({ query: `query ${i}`, output: [['lex', `lex ${i}`], ['hyde', `A passage about query ${i}.`]] }));
    const file = join(dir, 'structured.jsonl');
    await writeFile(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    await page.goto('./#/datasets');
    await page.getByTestId('dataset-file').setInputFiles(file);
    await expect(page.getByTestId('report-rows')).toHaveText('10', { timeout: 30_000 });
    const download = page.waitForEvent('download');
    await page.getByTestId('export-qmd').first().click();
    const zip = unzipSync(new Uint8Array(await readFile((await (await download).path())!)));
    expect(Object.keys(zip).sort()).toEqual(['finetune/configs/qmd-lab.yaml', 'finetune/data/train/dataset_info.json', 'finetune/data/train/train.jsonl', 'finetune/data/train/train_chat.jsonl', 'finetune/data/train/val.jsonl']);
    const text = (name: string) => new TextDecoder().decode(zip[name]);
    const train = text('finetune/data/train/train.jsonl').trim().split('\n').map((l) => JSON.parse(l));
    expect(train).toHaveLength(9);
    expect(train[0].text).toMatch(/^<\|im_start\|>user\n\/no_think Expand this search query: query \d<\|im_end\|>\n<\|im_start\|>assistant\nhyde: A passage about query \d\.\nlex: lex \d<\|im_end\|>\n$/);
    expect(parseQmdTrainerConfig(text('finetune/configs/qmd-lab.yaml')).config.eval.split).toBe(0.1);
    await expect(page.getByTestId('export-qmd-note')).toContainText('9 rows in train.jsonl, 1 row in val.jsonl');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.describe('with a model loaded', () => {
  const fixture = useTrainFixture('train-recompute');

  test('unticking "recompute layers" (on in the v4 preset) raises the memory estimate, ticking restores it', async ({ page }) => {
    await page.goto(`./?hub=${encodeURIComponent(fixture().hub.url)}#/playground`);
    await loadTrainModel(page);
    const estimate = page.getByTestId('train-memory');
    const bytes = async () => Number(await estimate.getAttribute('data-bytes', { timeout: 60_000 }));
    await expect(page.getByTestId('train-recompute')).toBeChecked();
    const recomputed = await bytes();
    await page.getByTestId('train-recompute').uncheck();
    await expect.poll(bytes, { timeout: 60_000 }).toBeGreaterThan(recomputed);
    await page.getByTestId('train-recompute').check();
    await expect.poll(bytes, { timeout: 60_000 }).toBe(recomputed);
  });
});
