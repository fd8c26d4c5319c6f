// A training run lost to a reload before its first checkpoint, on SwiftShader WebGPU with a tiny
// seeded Qwen3 from the test hub: leaving the page mid-run asks first, the next visit to #/train
// lists the run as interrupted (no page holds its lock) with no Resume (it has no checkpoint), and
// Delete removes it. Resuming from a checkpoint: train-resume.e2e.ts.
import { test, expect } from '@playwright/test';
import { openTrainWithModel, TRAIN_REPO, TRAIN_ROWS, useTrainFixture } from './support/train.ts';

const fixture = useTrainFixture('train-interrupted', TRAIN_ROWS, 'four.jsonl');

test('a reload during step 1 asks first; the run is then listed as interrupted, without a checkpoint to resume from, and is deleted', async ({ page }) => {
  test.setTimeout(300_000);
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.type());
    void dialog.accept();
  });
  await openTrainWithModel(page, fixture());
  await expect(page.getByTestId('train-run')).toHaveCount(0);
  await page.getByTestId('train-max-length').fill('48');
  await page.getByTestId('train-max-steps').fill('2');
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-cancel')).toBeVisible();
  const run = page.getByTestId('train-run');
  await expect(run).toHaveAttribute('data-status', 'running');
  expect(dialogs).toEqual([]);

  await page.reload();
  expect(dialogs).toEqual(['beforeunload']);
  await expect(run).toHaveAttribute('data-status', 'interrupted');
  await expect(run.getByTestId('train-run-model')).toHaveText(TRAIN_REPO);
  await expect(run.getByTestId('train-run-dataset')).toHaveText('four.jsonl');
  await expect(run.getByTestId('train-run-steps')).toHaveText('0 / ?');
  await run.getByTestId('train-run-history').click();
  await expect(page.getByTestId('train-run-note')).toHaveText(
    'the page running it went away (a reload, a closed tab or a crash) after step 0; it has no checkpoint to resume from',
  );
  await expect(run.getByTestId('train-run-resume')).toHaveCount(0);

  await run.getByTestId('train-run-delete').click();
  await page.getByTestId('train-run-delete-yes').click();
  await expect(run).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId('view-train')).toBeVisible();
  await expect(run).toHaveCount(0);
  expect(dialogs).toEqual(['beforeunload']);
});
