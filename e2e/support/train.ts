// The setup the Train page's e2e tests share: a tiny seeded Qwen3 (hidden 64, 2 layers) served by
// the test hub, a small dataset file, and the way a user gets from there to #/train: import the
// file, load the model in the playground, open Train.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect, type Page } from '@playwright/test';
import { makeTinyModel } from '../../scripts/make-tiny-model.ts';
import { serveHub, type HubServer } from './hub.ts';

export const TRAIN_REPO = 'test/tiny-qwen3';

export const TRAIN_ROWS = [
  { input: 'nginx reverse proxy', output: 'lex: nginx proxy_pass\nvec: configure nginx as a reverse proxy' },
  { input: 'git rebase onto main', output: 'lex: git rebase --onto\nvec: rebase a branch onto main' },
  { input: 'sqlite wal mode', output: 'lex: PRAGMA journal_mode=WAL\nvec: enable write-ahead logging' },
  { input: 'rust borrow checker', output: 'lex: borrow checker\nvec: why rust rejects two mutable borrows' },
];

export interface TrainFixture {
  dir: string;
  hub: HubServer;
  dataFile: string;
}

/** Registers beforeAll/afterAll that make the model, the hub and the dataset file; read the fixture inside tests. */
export function useTrainFixture(name: string, rows: readonly object[] = TRAIN_ROWS, fileName = 'rows.jsonl'): () => TrainFixture {
  let fixture: TrainFixture | undefined;
  test.beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), `qmd-${name}-`));
    await makeTinyModel(join(dir, 'base'), { seed: 7, hidden: 64, layers: 2 });
    const hub = await serveHub({ [TRAIN_REPO]: join(dir, 'base') });
    const dataFile = join(dir, fileName);
    await writeFile(dataFile, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    fixture = { dir, hub, dataFile };
  });
  test.afterAll(async () => {
    await fixture?.hub.close();
    if (fixture) await rm(fixture.dir, { recursive: true, force: true });
  });
  return () => fixture!;
}

/**
 * Sets the only listed dataset's validation part to none, from Datasets, for runs whose test
 * asserts nothing of the validation loss: on SwiftShader its pass costs about as much as a step.
 */
export async function holdNothingOut(page: Page): Promise<void> {
  const row = page.getByTestId('dataset-row');
  await expect(row).toHaveCount(1);
  await row.getByTestId('edit-validation').click();
  await row.getByTestId('validation-percent').fill('0');
  await row.getByTestId('validation-save').click();
  await expect(row.getByTestId('dataset-validation')).toContainText('0 rows');
}

/** Imports the dataset, loads the model from the test hub and opens #/train, as a user would. */
export async function openTrainWithModel(page: Page, fixture: TrainFixture, rows = TRAIN_ROWS.length): Promise<void> {
  await page.goto(`./?hub=${encodeURIComponent(fixture.hub.url)}#/datasets`);
  await page.getByTestId('dataset-file').setInputFiles(fixture.dataFile);
  await expect(page.getByTestId('report-rows')).toHaveText(String(rows), { timeout: 30_000 });
  await loadTrainModel(page);
}

/** Loads TRAIN_REPO in the Playground's model panel and goes back by the nav to `view`. */
export async function loadTrainModel(page: Page, view: 'Train' | 'GRPO' = 'Train'): Promise<void> {
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Playground' }).click();
  await page.getByTestId('base-repo').fill(TRAIN_REPO);
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('model-loaded')).toHaveText(TRAIN_REPO, { timeout: 60_000 });
  await nav.getByRole('link', { name: view }).click();
}
