// A dataset row whose prompt alone fills the max length, trained on in the page (SwiftShader
// WebGPU, a tiny seeded Qwen3 served through the hub code path): the run is not failed by it, it
// trains on the other rows, and the outcome lists the skipped row by its line in the file.
import { test, expect } from '@playwright/test';
import { openTrainWithModel, useTrainFixture } from './support/train.ts';

const LONG = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
const QUERIES = ['nginx reverse proxy', LONG, 'sqlite wal mode', 'rust borrow checker'];
const fixture = useTrainFixture(
  'abuse-train',
  QUERIES.map((q) => ({ input: q, output: `lex: ${q.slice(0, 20)}\nvec: how to ${q.slice(0, 20)}` })),
);

test('a row whose prompt fills max length is skipped and listed by line; the run trains on the rest', async ({ page }) => {
  test.setTimeout(300_000);
  await openTrainWithModel(page, fixture());

  await page.getByTestId('train-max-length').fill('48');
  // Completion-only: with the whole sequence scored (configs/sft.yaml's default) a long prompt still has tokens to learn.
  await page.getByTestId('train-loss-completion').check();
  await page.getByTestId('train-max-steps').fill('1');
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-done')).toBeVisible({ timeout: 240_000 });
  await expect(page.getByTestId('train-error')).toHaveCount(0);
  await expect(page.getByTestId('train-step-row')).toHaveCount(1);
  await expect(page.getByTestId('train-skipped')).toHaveText(
    '1 row skipped: the prompt alone fills max length 48, leaving no completion token to train on (line 2).',
  );
});
