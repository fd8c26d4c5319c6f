// Retrieval eval in the page (#/eval, "retrieval over notes") on QMD's fixture: the notes folder
// uploaded as a directory, the harness queries, BM25 through SQLite's WebAssembly build; the
// index survives a reload (IndexedDB) and a second upload re-indexes nothing. Then a tiny seeded
// Qwen3 (served through ?hub=) expands 3 queries for the "base" variant, and a generated tiny
// embedding model, served the same way and run by transformers.js, adds vector and hybrid rows.
// A run is saved in the results with its ranks; its share link is searched again only where the
// page holds the same notes, and shown as stored (labelled) elsewhere. Cancelling says what was kept.
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

async function loadTinyModel(page: Page): Promise<void> {
  await page.goto(`./?hub=${encodeURIComponent(hub!.url)}#/playground`);
  await page.getByTestId('base-repo').fill(BASE_REPO);
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('model-loaded')).toHaveText(BASE_REPO, { timeout: 120_000 });
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Eval' }).click();
  await page.getByTestId('eval-mode-retrieval').check();
}

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
  await loadTinyModel(page);
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

test('a run is saved with its ranks; its link is searched again over the same notes and shown as stored elsewhere', async ({ page, browser }) => {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await openRetrieval(page);
  await page.getByTestId('retrieval-notes-input').setInputFiles(join(fixture!, 'docs'));
  await expect(page.getByTestId('retrieval-note-count')).toHaveText('6 notes');
  await page.getByTestId('retrieval-queries-input').setInputFiles(join(fixture!, 'queries-harness.jsonl'));
  await page.getByTestId('retrieval-run').click();
  await expect(summaryRow(page, 'no expansion', 'bm25')).toContainText('72.2 %', { timeout: 60_000 });
  const first = await page.getByTestId('retrieval-saved').getByRole('link').textContent();
  // A second run over the first 3 queries, to compare with.
  await page.getByTestId('retrieval-queries-input').setInputFiles(threeQueries);
  await page.getByTestId('retrieval-run').click();
  await expect(page.getByTestId('retrieval-saved')).toContainText('three.jsonl', { timeout: 60_000 });

  // Saved: listed in #/results, and its page shows the ranks it stored.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Results' }).click();
  await expect(page.getByTestId('result-row')).toHaveCount(2);
  await page.getByRole('link', { name: first! }).click();
  await expect(page.getByTestId('view-result')).toBeVisible();
  await expect(summaryRow(page, 'no expansion', 'bm25')).toContainText('72.2 %');
  await expect(page.getByTestId('retrieval-provenance')).toHaveText('bm25: searched in this page over 6 notes.');
  await expect(page.getByTestId('retrieval-query-row')).toHaveCount(18);
  await expect(page.getByTestId('summary-eval')).toHaveCount(0);
  // Against the 3-query run (all three at rank 1): hit@3 72.2 % − 100 %, and the different query sets said.
  await page.getByTestId('compare-select').selectOption({ index: 1 });
  await expect(page.getByTestId('retrieval-compare-row')).toHaveCount(1);
  await expect(page.getByTestId('retrieval-compare-hit3')).toHaveText('−27.8');
  await expect(page.getByTestId('retrieval-compare-warning')).toHaveText('Not measured on the same ground: the query sets differ.');
  await page.getByTestId('share-button').click();
  const link = await page.getByTestId('share-link').inputValue();
  expect(link).toContain('#/share/3.');

  // The same notes here: BM25 searched again, with per-list ranks.
  await page.goto(link);
  await expect(page.getByTestId('view-share')).toBeVisible();
  await expect(page.getByTestId('retrieval-provenance')).toHaveText('bm25: searched in this page over 6 notes.', { timeout: 30_000 });
  await expect(summaryRow(page, 'no expansion', 'bm25')).toContainText('72.2 %');
  await page.getByRole('button', { name: 'API versioning' }).click();
  await expect(page.getByTestId('retrieval-query-detail')).toContainText('fts:original “API versioning” — the note at 1 of 1');

  // A browser without the notes: the sender's ranks, labelled as such.
  const stranger = await browser.newPage();
  await stranger.goto(link);
  await expect(stranger.getByTestId('retrieval-provenance')).toContainText(
    "bm25: shown as stored by the link's sender, not recomputed (this page has no notes indexed)",
    { timeout: 30_000 },
  );
  await expect(summaryRow(stranger, 'no expansion', 'bm25')).toContainText('72.2 %');
  await stranger.getByRole('button', { name: 'API versioning' }).click();
  await expect(stranger.getByTestId('retrieval-query-detail')).toContainText('per-list ranks not stored (from a share link)');
  await stranger.screenshot({ path: `${SHOTS}/shared-stored.png`, fullPage: true });
  await stranger.close();
  expect(errors).toEqual([]);
});

test('cancelling a retrieval eval says so and what was kept: the expansions generated so far, as a partial result', async ({ page }) => {
  test.setTimeout(300_000);
  await loadTinyModel(page);
  await page.getByTestId('retrieval-notes-input').setInputFiles(join(fixture!, 'docs'));
  await expect(page.getByTestId('retrieval-note-count')).toHaveText('6 notes');
  await page.getByTestId('retrieval-queries-input').setInputFiles(join(fixture!, 'queries-harness.jsonl'));
  await page.getByTestId('retrieval-eval').getByTestId('max-tokens').fill('16');
  await page.getByTestId('retrieval-run').click();
  // Once the first expansion is in, and long before all 18 are.
  await expect(page.getByTestId('eval-progress')).toHaveAttribute('data-done', /^[1-9]/, { timeout: 120_000 });
  await page.getByTestId('retrieval-cancel').click();

  const cancelled = page.getByTestId('retrieval-cancelled');
  await expect(cancelled).toContainText(/^Cancelled before the notes were searched: the (\d+) of 18 expansions generated were saved in 1 result \(expansion scores only, no ranks\)\.$/);
  const kept = Number(/the (\d+) of 18/.exec((await cancelled.textContent()) ?? '')![1]);
  expect(kept).toBeGreaterThan(0);
  expect(kept).toBeLessThan(18);
  await expect(page.getByTestId('retrieval-results')).toHaveCount(0);
  await expect(page.getByTestId('retrieval-error')).toHaveCount(0);

  await page.getByTestId('retrieval-saved').getByRole('link').click();
  await expect(page.getByTestId('result-detail').getByTestId('result-partial')).toContainText(`after ${kept} of its 18`);
  await expect(page.getByTestId('result-retrieval')).toHaveCount(0);
});
