// GRPO in the page on SwiftShader WebGPU with a tiny seeded Qwen3 from the test hub: a stored SFT
// adapter merged into the weights on the GPU, 2 steps of G 2 completions of at most 3 tokens for
// 1 prompt each, paused after step 1 (its checkpoint stored), the page reloaded, the run listed as
// paused and resumed from its checkpoint to step 2 — where the drift guard fires: a random model
// never writes a lex:/vec:/hyde: line, so once its window of 2 groups is full (step 2) every
// completion is a hard fail, over the 99 % bound set here, and the run rolls back (step 2's
// completions were sampled by step 1's adapter, so to the fresh one in a run that holds it; a
// resumed run holds no state older than its checkpoint: step 1's). The charts get a point per step
// and series, the sample tables a row per completion, the halt panel says which rule fired, the
// model panel says the SFT adapter is merged, and the adapter is saved like a trained SFT adapter.
import { join } from 'node:path';
import { test, expect, type Page } from '@playwright/test';
import { makeTinyModel } from '../scripts/make-tiny-model.ts';
import { loadTrainModel, openTrainWithModel, TRAIN_REPO, useTrainFixture } from './support/train.ts';

const STEPS = 2;
const G = 2;
/** Short: the reference pass and the update score every completion through the 151,936-row LM head as a MatMul (SwiftShader). */
const MAX_COMPLETION = 3;
/** Series over the six charts: reward, reward score, eval / 100, hard fails, zero spread, KL, tokens, loss, grad norm. */
const SERIES = 9;

const fixture = useTrainFixture('grpo');
let sftFiles: string[];

test.beforeAll(async () => {
  // The same seeded base (the hub serves the fixture's copy), and a PEFT adapter for it to merge.
  const dir = fixture().dir;
  await makeTinyModel(join(dir, 'with-sft'), { seed: 7, hidden: 64, layers: 2, adapter: { dir: join(dir, 'sft'), rank: 4 } });
  sftFiles = [join(dir, 'sft', 'adapter_config.json'), join(dir, 'sft', 'adapter_model.safetensors')];
});

const nav = (page: Page) => page.getByRole('navigation', { name: 'Main' });

test('GRPO in the page: an SFT adapter merged, 2 steps charted with their samples, paused, reloaded and resumed from the checkpoint', async ({ page }) => {
  test.setTimeout(600_000);
  const errors: string[] = [];
  const expected = /Failed to load resource: the server responded with a status of 404|\[W:onnxruntime:, session_state\.cc/;
  page.on('console', (m) => m.type() === 'error' && !expected.test(m.text()) && errors.push(m.text()));
  await openTrainWithModel(page, fixture());
  // The SFT model: a PEFT adapter stored in the browser (checked against the loaded model first).
  await nav(page).getByRole('link', { name: 'Playground' }).click();
  await page.getByTestId('adapter-save-files').setInputFiles(sftFiles);
  await expect(page.getByTestId('stored-adapter')).toHaveCount(1, { timeout: 90_000 });

  await nav(page).getByRole('link', { name: 'GRPO' }).click();
  await expect(page.getByTestId('grpo-model')).toHaveText(TRAIN_REPO);
  await expect(page.getByTestId('grpo-prompts')).toContainText('rows.jsonl — dataset, 4 queries');
  await page.getByTestId('grpo-sft').selectOption({ index: 1 });
  await page.getByTestId('grpo-grpo-num-generations').fill(String(G));
  await page.getByTestId('grpo-grpo-max-completion-length').fill(String(MAX_COMPLETION));
  await page.getByTestId('grpo-training-batch-size').fill(String(G));
  await page.getByTestId('grpo-training-grad-accum').fill('1');
  await page.getByTestId('grpo-training-max-length').fill('64');
  await page.getByTestId('grpo-grpo-max-steps').fill(String(STEPS));
  await page.getByTestId('grpo-checkpoint-every').fill('1');
  await page.getByTestId('grpo-drift-guard-max-hard-fail-rate').fill('99');
  await page.getByTestId('grpo-drift-guard-window-groups').fill('2');
  await expect(page.getByTestId('grpo-step-shape')).toHaveText(`${G} completions a step: 1 prompt × G ${G}.`);
  await expect(page.getByTestId('grpo-memory')).toContainText('GPU memory for this run, estimated', { timeout: 90_000 });
  await expect(page.getByTestId('grpo-memory-sampling')).toBeVisible();
  await expect(page.getByTestId('grpo-memory-reference')).toBeVisible();

  // Pause at once: the run ends after step 1, with its checkpoint stored.
  await page.getByTestId('grpo-start').click();
  await page.getByTestId('grpo-pause').click();
  await expect(page.getByTestId('grpo-phase')).toContainText('Pausing — finishing step 1');
  const pausedAt = Date.now();
  await expect(page.getByTestId('grpo-done')).toBeVisible({ timeout: 280_000 });
  await expect(page.getByTestId('grpo-outcome-line')).toHaveText(/^Paused after step 1 of 2/);
  console.log(`grpo e2e: step 1 (graphs and shaders included) took ${((Date.now() - pausedAt) / 1000).toFixed(0)} s after Pause`);
  const run = page.getByTestId('grpo-run');
  await expect(run).toHaveAttribute('data-status', 'paused');
  await expect(run.getByTestId('grpo-run-steps')).toContainText('1 / 2 (checkpoint 1)');
  await expect(page.getByTestId('grpo-chart')).toHaveCount(6);
  await expect(page.getByTestId('grpo-chart-point')).toHaveCount(SERIES);
  await expect(page.getByTestId('grpo-sample-row')).toHaveCount(G);

  // A reload drops the model and the merged weights; the run stays listed, its history with it.
  await page.reload();
  await expect(run).toHaveAttribute('data-status', 'paused');
  await expect(run.getByTestId('grpo-run-prompts')).toHaveText('rows.jsonl');
  await run.getByTestId('grpo-run-resume').click();
  await expect(page.getByTestId('grpo-error')).toHaveText(/no model is loaded: load test\/tiny-qwen3 in the Playground to resume it/);
  await run.getByTestId('grpo-run-history').click();
  await expect(page.getByTestId('grpo-run-detail').getByTestId('grpo-chart-point')).toHaveCount(SERIES);
  await expect(page.getByTestId('grpo-run-detail').getByTestId('grpo-sample-row')).toHaveCount(G);

  await loadTrainModel(page, 'GRPO');
  await expect(run.getByTestId('grpo-run-resume')).toHaveText('Resume from step 1');
  await run.getByTestId('grpo-run-resume').click();
  const resumedAt = Date.now();
  await expect(page.getByTestId('grpo-done')).toBeVisible({ timeout: 280_000 });
  console.log(`grpo e2e: the resumed step 2 (the merge and graphs included) took ${((Date.now() - resumedAt) / 1000).toFixed(0)} s`);
  await expect(page.getByTestId('grpo-outcome-line')).toHaveText(`Stopped by the drift guard at step ${STEPS} of ${STEPS}, rolled back to step 1`);
  const halt = page.getByTestId('grpo-halt');
  await expect(halt).toHaveAttribute('data-rule', 'hard-fail-rate');
  await expect(halt.getByTestId('grpo-halt-message')).toHaveText(`step ${STEPS}: 100.0 % of the completions of the last 2 groups hard-failed the format, above the drift guard's max_hard_fail_rate 99.0 %`);
  await expect(halt.getByTestId('grpo-halt-rollback')).toContainText('rolled back to the checkpoint of step 1');
  await expect(page.locator('[data-testid="grpo-samples"][data-name="halt"]').getByTestId('grpo-sample-row')).toHaveCount(2 * G);
  await expect(run).toHaveAttribute('data-status', 'halted');
  await expect(run.getByTestId('grpo-run-steps')).toContainText(`${STEPS} / ${STEPS}`);
  const live = page.getByTestId('view-grpo').locator('> .panel > [data-testid="grpo-charts"]');
  await expect(live.getByTestId('grpo-chart-point')).toHaveCount(STEPS * SERIES);
  const steps = await live.locator('[data-series="loss"]').evaluateAll((points) => points.map((p) => Number(p.getAttribute('data-step'))));
  expect(steps).toEqual([1, 2]);

  // The sample table of each step: every completion, filterable by reward.
  const samples = page.locator('[data-testid="grpo-samples"][data-name="live"]');
  await expect(samples.getByTestId('grpo-sample-row')).toHaveCount(G);
  await page.getByTestId('grpo-sample-step').first().selectOption('1');
  await expect(samples.getByTestId('grpo-sample-row')).toHaveCount(G);
  await samples.getByTestId('grpo-filter-min').fill('1000');
  await expect(samples.getByTestId('grpo-sample-row')).toHaveCount(0);
  await expect(samples.getByTestId('grpo-samples-count')).toHaveText(`0 of ${G} completions`);

  await page.getByTestId('grpo-adapter-name').fill('tiny grpo');
  await page.getByTestId('grpo-save').click();
  await expect(page.getByTestId('grpo-saved')).toContainText('tiny grpo');
  // What the Playground runs as its base model is now base + the SFT adapter: the model panel says so.
  await nav(page).getByRole('link', { name: 'Playground' }).click();
  await expect(page.getByTestId('model-warning')).toContainText(/The SFT adapter .* is merged into these weights/);
  expect(errors).toEqual([]);
});
