// A dataset row whose prompt alone fills the max length, trained on in the page (SwiftShader
// WebGPU, a tiny seeded Qwen3 served through the hub code path): the run is not failed by it, it
// trains on the other rows, and the outcome lists the skipped row by its line in the file.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect } from '@playwright/test';
import { makeTinyModel } from '../scripts/make-tiny-model.ts';
import { serveHub, type HubServer } from './support/hub.ts';

const REPO = 'test/tiny-qwen3';
const LONG = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
const QUERIES = ['nginx reverse proxy', LONG, 'sqlite wal mode', 'rust borrow checker'];

let dir: string;
let hub: HubServer | undefined;
let dataFile: string;

test.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qmd-abuse-train-'));
  await makeTinyModel(join(dir, 'base'), { seed: 7, hidden: 64, layers: 2 });
  hub = await serveHub({ [REPO]: join(dir, 'base') });
  dataFile = join(dir, 'rows.jsonl');
  await writeFile(dataFile, QUERIES.map((q) => JSON.stringify({ input: q, output: `lex: ${q.slice(0, 20)}\nvec: how to ${q.slice(0, 20)}` })).join('\n') + '\n');
});

test.afterAll(async () => {
  await hub?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('a row whose prompt fills max length is skipped and listed by line; the run trains on the rest', async ({ page }) => {
  test.setTimeout(150_000);
  await page.goto(`./?hub=${encodeURIComponent(hub!.url)}#/datasets`);
  await page.getByTestId('dataset-file').setInputFiles(dataFile);
  await expect(page.getByTestId('report-rows')).toHaveText('4', { timeout: 30_000 });

  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Playground' }).click();
  await page.getByTestId('base-repo').fill(REPO);
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('model-loaded')).toHaveText(REPO, { timeout: 60_000 });
  await nav.getByRole('link', { name: 'Train' }).click();

  await page.getByTestId('train-max-length').fill('48');
  await page.getByTestId('train-max-steps').fill('1');
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-done')).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('train-error')).toHaveCount(0);
  await expect(page.getByTestId('train-step-row')).toHaveCount(1);
  await expect(page.getByTestId('train-skipped')).toHaveText(
    '1 row skipped: the prompt alone fills max length 48, leaving no completion token to train on (line 2).',
  );
});
