// Retrieval eval in the page (#/eval, "retrieval over notes") on QMD's fixture: the notes folder
// uploaded as a directory, the harness queries, BM25 through SQLite's WebAssembly build; the
// index survives a reload (IndexedDB) and a second upload re-indexes nothing. Then a tiny seeded
// Qwen3 (served through ?hub=) expands 3 queries for the "base" variant, and a generated tiny
// embedding model, served the same way and run by transformers.js, adds vector and hybrid rows.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect, type Page } from '@playwright/test';
import { makeTinyEmbedder } from '../scripts/make-tiny-embedder.ts';
import { makeTinyModel } from '../scripts/make-tiny-model.ts';
import { sharedFile } from '../src/testing/shared.ts';
import { serveHub, type HubServer } from './support/hub.ts';

const fixture = sharedFile('data/retrieval');
const BASE_REPO = 'test/tiny-qwen3';
const EMBED_REPO = 'test/tiny-embedder';
const SHOTS = '/tmp/shots-retrieval';

let dir: string;
let hub: HubServer | undefined;
let threeQueries: string;

test.skip(!fixture, '../shared/data/retrieval is needed');

test.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qmd-retrieval-'));
  await makeTinyModel(join(dir, 'base'), { seed: 7, hidden: 64, layers: 2 });
  await makeTinyEmbedder(join(dir, 'embedder'));
  hub = await serveHub({ [BASE_REPO]: join(dir, 'base'), [EMBED_REPO]: join(dir, 'embedder') });
  const harness = readFileSync(join(fixture!, 'queries-harness.jsonl'), 'utf8').trim().split('\n');
  threeQueries = join(dir, 'three.jsonl');
  await writeFile(threeQueries, harness.slice(0, 3).join('\n') + '\n');
});

test.afterAll(async () => {
  await hub?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function openRetrieval(page: Page): Promise<void> {
  await page.goto(`./?hub=${encodeURIComponent(hub!.url)}#/eval`);
  await page.getByTestId('eval-mode-retrieval').check();
  await expect(page.getByTestId('retrieval-eval')).toBeVisible();
}

const summaryRow = (page: Page, variant: string, mode: string) =>
  page.locator(`[data-testid="retrieval-summary-row"][data-variant="${variant}"][data-mode="${mode}"]`);

test('BM25 over the uploaded fixture notes meets QMD’s bar; the index survives a reload and re-indexes nothing', async ({ page }) => {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await openRetrieval(page);
  await page.getByTestId('retrieval-notes-input').setInputFiles(join(fixture!, 'docs'));
  await expect(page.getByTestId('retrieval-note-count')).toHaveText('6 notes');
  await expect(page.getByTestId('retrieval-sync')).toContainText('6 added · 0 changed · 0 removed · 0 unchanged');
  await page.getByTestId('retrieval-queries-input').setInputFiles(join(fixture!, 'queries-harness.jsonl'));
  await expect(page.getByTestId('retrieval-query-count')).toContainText('18 queries');
  await page.getByTestId('retrieval-run').click();

  // The same figures as `qmd retrieve` on this fixture: 13 of 18 at rank 1.
  await expect(summaryRow(page, 'no expansion', 'bm25')).toContainText('72.2 %', { timeout: 60_000 });
  await expect(page.getByTestId('retrieval-query-row')).toHaveCount(18);
  await expect(page.getByTestId('retrieval-chart-bar')).toHaveCount(1);
  await page.getByRole('button', { name: 'API versioning' }).click();
  await expect(page.getByTestId('retrieval-query-detail')).toContainText('fts:original “API versioning” — the note at 1 of 1');
  await page.screenshot({ path: `${SHOTS}/bm25.png`, fullPage: true });

  await page.reload();
  await page.getByTestId('eval-mode-retrieval').check();
  await expect(page.getByTestId('retrieval-note-count')).toHaveText('6 notes');
  await expect(page.getByTestId('retrieval-restored')).toBeVisible();
  await page.getByTestId('retrieval-queries-input').setInputFiles(join(fixture!, 'queries-harness.jsonl'));
  await page.getByTestId('retrieval-run').click();
  await expect(summaryRow(page, 'no expansion', 'bm25')).toContainText('72.2 %', { timeout: 60_000 });

  await page.getByTestId('retrieval-notes-input').setInputFiles(join(fixture!, 'docs'));
  await expect(page.getByTestId('retrieval-sync')).toContainText('0 added · 0 changed · 0 removed · 6 unchanged');
  expect(errors).toEqual([]);
});

test('a tiny Qwen3 expands for the base variant; a tiny embedding model adds vector and hybrid search', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto(`./?hub=${encodeURIComponent(hub!.url)}#/playground`);
  await page.getByTestId('base-repo').fill(BASE_REPO);
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('model-loaded')).toHaveText(BASE_REPO, { timeout: 120_000 });
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Eval' }).click();
  await page.getByTestId('eval-mode-retrieval').check();
  // Each test runs in a fresh browser context, with an empty IndexedDB: the notes are uploaded again.
  await page.getByTestId('retrieval-notes-input').setInputFiles(join(fixture!, 'docs'));
  await expect(page.getByTestId('retrieval-note-count')).toHaveText('6 notes');
  await page.getByTestId('retrieval-queries-input').setInputFiles(threeQueries);
  await expect(page.getByTestId('retrieval-query-count')).toContainText('3 queries');
  await page.getByTestId('retrieval-eval').getByTestId('max-tokens').fill('4');
  await page.getByTestId('retrieval-embed-model').selectOption('other');
  await page.getByTestId('retrieval-embed-custom').fill(EMBED_REPO);
  await page.getByTestId('retrieval-embed-dtype').selectOption('fp32');
  await page.getByTestId('retrieval-run').click();

  for (const variant of ['no expansion', 'base']) {
    for (const mode of ['bm25', 'vector', 'hybrid']) await expect(summaryRow(page, variant, mode)).toBeVisible({ timeout: 240_000 });
  }
  // Three easy queries, each naming its note: BM25 finds all three, with or without the random model's expansion.
  await expect(summaryRow(page, 'no expansion', 'bm25')).toContainText('100.0 %');
  await expect(page.getByTestId('retrieval-chart-bar')).toHaveCount(6);
  await page.getByRole('button', { name: 'CAP theorem' }).click();
  await expect(page.getByTestId('retrieval-query-detail')).toContainText('vec:original “CAP theorem”');
  await page.screenshot({ path: `${SHOTS}/hybrid.png`, fullPage: true });
  await expect(page.getByTestId('retrieval-error')).toHaveCount(0);
});
