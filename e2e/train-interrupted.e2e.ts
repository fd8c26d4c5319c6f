// A training run lost to a reload, on SwiftShader WebGPU with a tiny seeded Qwen3 from the test
// hub: leaving the page mid-run asks first, and the next visit to #/train says the run was
// interrupted (run-watch.svelte.ts's marker) until dismissed. Resuming is not offered.
import { test, expect } from '@playwright/test';
import { openTrainWithModel, TRAIN_REPO, TRAIN_ROWS, useTrainFixture } from './support/train.ts';

const fixture = useTrainFixture('train-interrupted', TRAIN_ROWS, 'four.jsonl');

test('a reload during training asks first, and #/train then says the run was interrupted', async ({ page }) => {
  test.setTimeout(180_000);
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.type());
    void dialog.accept();
  });
  await openTrainWithModel(page, fixture());
  await expect(page.getByTestId('train-interrupted')).toHaveCount(0);
  await page.getByTestId('train-max-length').fill('48');
  await page.getByTestId('train-max-steps').fill('2');
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-cancel')).toBeVisible();
  expect(dialogs).toEqual([]);

  await page.reload();
  expect(dialogs).toEqual(['beforeunload']);
  const notice = page.getByTestId('train-interrupted');
  await expect(notice).toContainText(`A training run was interrupted: started`);
  await expect(notice).toContainText(`on ${TRAIN_REPO} with four.jsonl`);
  await expect(notice).toContainText('before its first step finished');
  await page.getByTestId('train-interrupted-dismiss').click();
  await expect(notice).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId('view-train')).toBeVisible();
  await expect(notice).toHaveCount(0);
  expect(dialogs).toEqual(['beforeunload']);
});
