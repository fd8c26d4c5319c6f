// A training run lost to a reload, on SwiftShader WebGPU with a tiny seeded Qwen3 from the test
// hub: leaving the page mid-run asks first, and the next visit to #/train says the run was
// interrupted (run-watch.svelte.ts's marker) until dismissed. Resuming is not offered.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect } from '@playwright/test';
import { makeTinyModel } from '../scripts/make-tiny-model.ts';
import { serveHub, type HubServer } from './support/hub.ts';

const REPO = 'test/tiny-qwen3';
const ROWS = [
  { input: 'nginx reverse proxy', output: 'lex: nginx proxy_pass\nvec: configure nginx as a reverse proxy' },
  { input: 'git rebase onto main', output: 'lex: git rebase --onto\nvec: rebase a branch onto main' },
  { input: 'sqlite wal mode', output: 'lex: PRAGMA journal_mode=WAL\nvec: enable write-ahead logging' },
  { input: 'rust borrow checker', output: 'lex: borrow checker\nvec: why rust rejects two mutable borrows' },
];

let dir: string;
let hub: HubServer | undefined;
let dataFile: string;

test.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qmd-train-interrupted-'));
  await makeTinyModel(join(dir, 'base'), { seed: 7, hidden: 64, layers: 2 });
  hub = await serveHub({ [REPO]: join(dir, 'base') });
  dataFile = join(dir, 'four.jsonl');
  await writeFile(dataFile, ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n');
});

test.afterAll(async () => {
  await hub?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('a reload during training asks first, and #/train then says the run was interrupted', async ({ page }) => {
  test.setTimeout(180_000);
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.type());
    void dialog.accept();
  });
  await page.goto(`./?hub=${encodeURIComponent(hub!.url)}#/datasets`);
  await page.getByTestId('dataset-file').setInputFiles(dataFile);
  await expect(page.getByTestId('import-report')).toBeVisible({ timeout: 30_000 });
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Playground' }).click();
  await page.getByTestId('base-repo').fill(REPO);
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('model-loaded')).toHaveText(REPO, { timeout: 60_000 });
  await nav.getByRole('link', { name: 'Train' }).click();
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
  await expect(notice).toContainText(`on ${REPO} with four.jsonl`);
  await expect(notice).toContainText('before its first step finished');
  await page.getByTestId('train-interrupted-dismiss').click();
  await expect(notice).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId('view-train')).toBeVisible();
  await expect(notice).toHaveCount(0);
  expect(dialogs).toEqual(['beforeunload']);
});
