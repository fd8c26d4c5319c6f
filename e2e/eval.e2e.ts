// Eval runs on SwiftShader WebGPU: a tiny seeded Qwen3 served through the hub code path (?hub=),
// a 3-line uploaded query set, 4 sampled tokens a query. The saved result survives a reload, its
// expansions match onnxruntime-node sampling with the same seed, and a second run on a freshly
// loaded model with the same seed gives the same expansions; Cancel stops a run mid-generation.
// A run cancelled or cut off by a reload keeps the generations it finished as a partial result,
// and leaving the page while it runs asks first.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect, type Page } from '@playwright/test';
import { makeTinyModel } from '../scripts/make-tiny-model.ts';
import { expand } from '../src/engine/generate.ts';
import { loadCheckpoint, loadModelTokenizer } from '../src/engine/model-dir.ts';
import { nodeRuntime } from '../src/engine/runtime-node.ts';
import { STOP_TOKENS } from '../src/engine/tokenizer.ts';
import { Qwen3Session } from '../src/engine/session.ts';
import { serveHub, type HubServer } from './support/hub.ts';

const QUERIES = ['nginx reverse proxy', 'git rebase onto main', 'sqlite wal mode'];
const SET_NAME = 'three-queries';
const SEED = 7;
const NEW_TOKENS = 4;
/** The cut-off runs' length: a generation must outlast the poll that sees the one before it done (4 tokens took 0.6 s, and the run finished before the cancel). */
const CUT_TOKENS = 48;
const BASE_REPO = 'test/tiny-qwen3';
const SHOTS = '/tmp/shots-eval';

let dir: string;
let hub: HubServer | undefined;
let hubUrl: string;
let queryFile: string;
/** onnxruntime-node's expansions of QUERIES with the run's sampling settings, at NEW_TOKENS and at CUT_TOKENS. */
let reference: string[] = [];
let referenceCut: string[] = [];

test.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qmd-eval-'));
  const base = join(dir, 'base');
  await makeTinyModel(base, { seed: 7, hidden: 64, layers: 2 });
  hub = await serveHub({ [BASE_REPO]: base });
  hubUrl = hub.url;
  queryFile = join(dir, `${SET_NAME}.txt`);
  await writeFile(queryFile, QUERIES.join('\n') + '\n');

  const { config, weights } = await loadCheckpoint(base);
  const tokenizer = await loadModelTokenizer(base);
  const session = await Qwen3Session.load(nodeRuntime, config, weights);
  const sampling = { greedy: false, temperature: 0.7, topK: 0, topP: 1, seed: SEED, maxNewTokens: NEW_TOKENS, stopTokens: STOP_TOKENS };
  for (const query of QUERIES) reference.push((await expand(session, tokenizer, query, sampling)).text);
  for (const query of QUERIES) referenceCut.push((await expand(session, tokenizer, query, { ...sampling, maxNewTokens: CUT_TOKENS })).text);
  await session.release();
  await mkdir(SHOTS, { recursive: true });
});

test.afterAll(async () => {
  await hub?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** From #/eval without a model: follow the notice's link, load the tiny model, come back by the nav. */
async function loadModel(page: Page): Promise<void> {
  await expect(page.getByTestId('model-missing')).toBeVisible();
  await expect(page.getByTestId('eval-run')).toBeDisabled();
  await page.getByTestId('open-model-panel').click();
  await page.getByTestId('base-repo').fill(BASE_REPO);
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('model-loaded')).toHaveText(BASE_REPO, { timeout: 120_000 });
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Eval' }).click();
  await expect(page.getByTestId('eval-model')).toHaveText(BASE_REPO);
}

/** Sets the sampling, runs, and returns the saved result's id. */
async function runEval(page: Page): Promise<string> {
  await expect(page.getByTestId('eval-query-count')).toHaveAttribute('data-count', '3');
  await page.getByTestId('seed').fill(String(SEED));
  await page.getByTestId('max-tokens').fill(String(NEW_TOKENS));
  await expect(page.getByTestId('eval-run')).toHaveText('Run 3 generations');
  await page.getByTestId('eval-run').click();
  const progress = page.getByTestId('eval-progress');
  await expect(progress).toBeVisible();
  await expect(progress).toContainText(/Query [123] of 3/);
  await expect(page.getByTestId('eval-saved')).toBeVisible({ timeout: 120_000 });
  await expect(progress).toHaveAttribute('data-done', '3');
  await expect(page.getByTestId('eval-rate')).toContainText(/\d+ tokens · \d+\.\d tokens\/s/);
  const link = page.getByTestId('eval-result-link');
  await expect(link).toHaveCount(1);
  await expect(link).toContainText(`${BASE_REPO} · base · ${SET_NAME} · `);
  const href = await link.getAttribute('href');
  return decodeURIComponent(href!.replace('#/results/', ''));
}

interface Stored {
  id: string;
  items: { query: string; expansion: string }[];
  origin: string;
  settings: unknown;
  partial?: { done: number; total: number };
}

/** Every stored result's (query, expansion) pairs, settings and partial mark, read from IndexedDB. */
function storedResults(page: Page): Promise<Stored[]> {
  return page.evaluate(
    () =>
      new Promise<Stored[]>((resolve, reject) => {
        const open = indexedDB.open('qmd-lab');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const all = open.result.transaction('results').objectStore('results').getAll();
          all.onsuccess = () => {
            resolve(
              all.result.map(({ id, items, origin, settings, partial }) => ({
                id,
                items: items.map((i: { query: string; expansion: string }) => ({ query: i.query, expansion: i.expansion })),
                origin,
                settings,
                ...(partial ? { partial } : {}),
              })),
            );
            open.result.close();
          };
          all.onerror = () => reject(all.error);
        };
      }),
  );
}

async function storedResult(page: Page, id: string): Promise<Stored> {
  const found = (await storedResults(page)).find((r) => r.id === id);
  if (!found) throw new Error(`no stored result ${id}`);
  return found;
}

test('an eval run over an uploaded set is saved, survives a reload, matches onnxruntime-node, repeats with its seed and cancels', async ({ page }) => {
  test.setTimeout(480_000);
  const errors: string[] = [];
  const probe = /Failed to load resource: the server responded with a status of 404/;
  page.on('console', (m) => m.type() === 'error' && !probe.test(m.text()) && errors.push(m.text()));

  await page.goto(`./?hub=${encodeURIComponent(hubUrl)}#/eval`);
  await expect(page.getByTestId('python-eval-file')).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/no-model.png`, fullPage: true });
  await loadModel(page);
  await page.getByTestId('eval-query-file').setInputFiles(queryFile);
  await expect(page.getByTestId('eval-query-set')).toHaveValue(/^set:/);
  const first = await runEval(page);
  await page.screenshot({ path: `${SHOTS}/done.png`, fullPage: true });
  await expect(page.getByTestId('results-table').getByTestId('result-row')).toHaveCount(1);

  await page.getByTestId('eval-result-link').click();
  await expect(page.getByTestId('view-result')).toBeVisible();
  await expect(page.getByTestId('result-item')).toHaveCount(3);
  await page.reload();
  await expect(page.getByTestId('result-item')).toHaveCount(3);
  await expect(page.getByTestId('item-query')).toHaveText(QUERIES);
  await page.screenshot({ path: `${SHOTS}/result.png`, fullPage: true });
  const saved = await storedResult(page, first);
  expect(saved).toMatchObject({ origin: 'run', settings: { temperature: 0.7, seed: SEED, maxNewTokens: NEW_TOKENS, samplesPerQuery: 1 } });
  expect(saved.items).toEqual(QUERIES.map((query, i) => ({ query, expansion: reference[i] })));

  // After the reload the model is gone: load it again and run the same settings.
  await page.goto(`./?hub=${encodeURIComponent(hubUrl)}#/eval`);
  await loadModel(page);
  await page.getByTestId('eval-query-set').selectOption({ label: `${SET_NAME} (3 queries)` });
  const second = await runEval(page);
  expect(second).not.toBe(first);
  expect((await storedResult(page, second)).items).toEqual(saved.items);
  await expect(page.getByTestId('results-table').getByTestId('result-row')).toHaveCount(2);

  // Cancel stops the generate in flight: a long budget ends within seconds and nothing is saved.
  await page.getByTestId('max-tokens').fill('200');
  await page.getByTestId('eval-run').click();
  await expect(page.getByTestId('eval-rate')).toContainText(/^\s*[1-9]\d* tokens?/, { timeout: 60_000 });
  await page.screenshot({ path: `${SHOTS}/running.png`, fullPage: true });
  await page.getByTestId('eval-cancel').click();
  // 200 tokens take minutes on SwiftShader; the cancel lands within seconds, more on a loaded machine.
  await expect(page.getByTestId('eval-cancelled')).toContainText('Cancelled after 0 of 3 generations', { timeout: 45_000 });
  await expect(page.getByTestId('eval-run')).toBeEnabled();
  await expect(page.getByTestId('results-table').getByTestId('result-row')).toHaveCount(2);
  expect(errors).toEqual([]);
});

test('a run cut off by a reload and a cancelled run keep what finished, marked partial; leaving mid-run asks first', async ({ page }) => {
  test.setTimeout(360_000);
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.type());
    void dialog.accept();
  });
  const progress = page.getByTestId('eval-progress');
  const rows = page.getByTestId('results-table').getByTestId('result-row');
  const start = async () => {
    await expect(page.getByTestId('eval-query-count')).toHaveAttribute('data-count', '3');
    await page.getByTestId('seed').fill(String(SEED));
    await page.getByTestId('max-tokens').fill(String(CUT_TOKENS));
    await page.getByTestId('eval-run').click();
  };
  const expansions = (n: number) => QUERIES.slice(0, n).map((query, i) => ({ query, expansion: referenceCut[i] }));

  // A reload during the second generation (each takes seconds on SwiftShader): the browser asks, the first is kept.
  await page.goto(`./?hub=${encodeURIComponent(hubUrl)}#/eval`);
  await loadModel(page);
  await page.getByTestId('eval-query-file').setInputFiles(queryFile);
  await start();
  await expect(progress).toHaveAttribute('data-done', '1', { timeout: 120_000 });
  await page.reload();
  expect(dialogs).toEqual(['beforeunload']);
  await expect(rows).toHaveCount(1);
  await expect(rows.getByTestId('result-partial')).toHaveText('partial 1/3');
  const [interrupted] = await storedResults(page);
  expect(interrupted).toMatchObject({ origin: 'run', partial: { done: 1, total: 3 } });
  expect(interrupted!.items).toEqual(expansions(1));

  // Cancel during the third generation: the first two are kept, listed and marked in the result's page.
  await loadModel(page);
  await page.getByTestId('eval-query-set').selectOption({ label: `${SET_NAME} (3 queries)` });
  await start();
  await expect(progress).toHaveAttribute('data-done', '2', { timeout: 120_000 });
  await page.getByTestId('eval-cancel').click();
  // The cancel lands once the token in flight is decoded: seconds on SwiftShader, more on a busy machine.
  await expect(page.getByTestId('eval-cancelled')).toContainText('Cancelled after 2 of 3 generations; what finished is saved as a partial result', { timeout: 45_000 });
  await expect(page.getByTestId('eval-result-partial')).toHaveText('partial: 2 of 3');
  await expect(rows).toHaveCount(2);
  const cancelled = (await storedResults(page)).find((r) => r.id !== interrupted!.id)!;
  expect(cancelled).toMatchObject({ partial: { done: 2, total: 3 } });
  expect(cancelled.items).toEqual(expansions(2));
  await page.getByTestId('eval-result-link').click();
  // The list on #/eval marks partial runs with the same test id: wait for the result's own page.
  await expect(page.getByTestId('result-detail').getByTestId('result-partial')).toContainText('after 2 of its 3 generations');

  // Nothing runs now: leaving does not ask.
  await page.reload();
  await expect(page.getByTestId('result-detail').getByTestId('result-partial')).toBeVisible();
  expect(dialogs).toEqual(['beforeunload']);
});
