// One notion of a dataset's validation part, in the page: Datasets shows and sets it (no new
// datasets), Train holds exactly it out, Eval offers its queries as "<dataset> — validation part
// (N rows)", and an export of it has exactly its rows. Names never double up: a second import of
// the same file, and a database of version 2 with doubled names, get " (2)" suffixes.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect, type Page } from '@playwright/test';
import { DB_VERSION } from '../src/data/db.ts';
import { splitDataset, splitRows } from '../src/data/split.ts';

const ROWS = 20;
const FILE = 'twenty.jsonl';
const queryOf = (i: number) => `query number ${i}`;

let dir: string;
let dataFile: string;

test.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qmd-split-'));
  dataFile = join(dir, FILE);
  const lines = Array.from({ length: ROWS }, (_, i) => JSON.stringify({ input: queryOf(i), output: `lex: query ${i}\nvec: what is query number ${i}` }));
  await writeFile(dataFile, lines.join('\n') + '\n');
});

test.afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function importFile(page: Page): Promise<void> {
  // Counted by the list, not the report: a second import would find the first one's report already there.
  const listed = await page.getByTestId('dataset-row').count();
  await page.getByTestId('dataset-file').setInputFiles(dataFile);
  await expect(page.getByTestId('dataset-row')).toHaveCount(listed + 1);
  await expect(page.getByTestId('report-rows')).toHaveText(String(ROWS));
}

const row = (page: Page, name: string) => page.getByTestId('dataset-row').filter({ has: page.getByRole('link', { name, exact: true }) });

test("a dataset's validation part: shown and set in Datasets, held out by Train, offered by Eval, exported alone", async ({ page }) => {
  await page.goto('./#/datasets');
  await importFile(page);
  await importFile(page);
  await expect(page.getByTestId('dataset-name')).toHaveText([`${FILE} (2)`, FILE]);
  await expect(row(page, FILE).getByTestId('dataset-validation')).toHaveText('2 rows (10 %, seed 42)');

  const first = row(page, FILE);
  await first.getByTestId('edit-validation').click();
  await first.getByTestId('validation-percent').fill('100');
  await expect(first.getByTestId('validation-preview')).toContainText('must be in [0, 1)');
  await expect(first.getByTestId('validation-save')).toBeDisabled();
  await first.getByTestId('validation-percent').fill('25');
  await first.getByTestId('validation-seed').fill('7');
  await expect(first.getByTestId('validation-preview')).toHaveText('5 rows in the validation part, 15 rows to train on');
  await first.getByTestId('validation-save').click();
  await expect(first.getByTestId('dataset-validation')).toHaveText('5 rows (25 %, seed 7)');
  // Setting the part makes no dataset.
  await expect(page.getByTestId('dataset-row')).toHaveCount(2);

  const expected = splitDataset(ROWS, { ratio: 0.25, seed: 7 });
  await first.getByTestId('export-part').selectOption('validation');
  await first.getByTestId('export-format').selectOption('input_output');
  const [download] = await Promise.all([page.waitForEvent('download'), first.getByTestId('export-dataset').click()]);
  expect(download.suggestedFilename()).toBe('twenty.jsonl-validation-input_output.jsonl');
  const exported = (await readFile(await download.path(), 'utf8')).trimEnd().split('\n').map((line) => (JSON.parse(line) as { input: string }).input);
  expect(exported).toEqual(expected.validation.map(queryOf));

  await page.reload();
  await expect(row(page, FILE).getByTestId('dataset-validation')).toHaveText('5 rows (25 %, seed 7)');
  await row(page, FILE).getByTestId('dataset-name').click();
  // Scoped to the dataset's own view: until the route changes, the list's cells carry the same test id.
  await expect(page.getByTestId('view-dataset').getByTestId('dataset-validation')).toContainText('Validation part: 5 rows (25 %, seed 7)');

  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Train' }).click();
  const datasetId = await page.getByTestId('train-dataset').locator('option', { hasText: `${FILE} (${ROWS} rows)` }).getAttribute('value');
  await page.getByTestId('train-dataset').selectOption(datasetId!);
  await expect(page.getByTestId('train-split')).toContainText("15 train rows, 5 held out for the validation loss: the dataset's validation part (25 %, seed 7");

  await nav.getByRole('link', { name: 'Eval' }).click();
  const options = page.getByTestId('eval-query-set').locator('option');
  await expect(options.filter({ hasText: 'validation part' })).toHaveText([`${FILE} (2) — validation part (2 rows)`, `${FILE} — validation part (5 rows)`]);
  await expect(options.filter({ hasText: /validation.*validation.*validation/ })).toHaveCount(0);
  await page.getByTestId('eval-query-set').selectOption({ label: `${FILE} — validation part (5 rows)` });
  await expect(page.getByTestId('eval-query-count')).toHaveAttribute('data-count', '5');
  await expect(page.getByTestId('eval-query-count')).toHaveText(`5 queries from ${FILE} — validation part`);
  await page.getByTestId('eval-query-count').click();
  await expect(page.getByTestId('eval-query-sets').locator('ol li')).toHaveText(expected.validation.map(queryOf));
});

test("a validation part drawn as QMD's trainer draws it: the rows its train.py holds out, exported, kept over a reload", async ({ page }) => {
  await page.goto('./#/datasets');
  await importFile(page);
  const first = row(page, FILE);
  await first.getByTestId('edit-validation').click();
  await first.getByTestId('validation-rule').selectOption('qmd-trainer');
  await first.getByTestId('validation-save').click();
  await expect(first.getByTestId('dataset-validation')).toHaveText("2 rows (10 %, seed 42, as QMD's trainer draws it)");
  // hf-split.ts is checked against numpy's own permutation (src/data/split.test.ts); here, that the page reads the rule.
  const expected = splitRows(ROWS, { ratio: 0.1, seed: 42, rule: 'qmd-trainer' });
  expect(expected.validation).not.toEqual(splitDataset(ROWS).validation);
  await page.reload();
  await first.getByTestId('export-part').selectOption('validation');
  await first.getByTestId('export-format').selectOption('input_output');
  const [download] = await Promise.all([page.waitForEvent('download'), first.getByTestId('export-dataset').click()]);
  const exported = (await readFile(await download.path(), 'utf8')).trimEnd().split('\n').map((line) => (JSON.parse(line) as { input: string }).input);
  expect(exported).toEqual(expected.validation.map(queryOf));
  await first.getByTestId('edit-validation').click();
  await expect(first.getByTestId('validation-rule')).toHaveValue('qmd-trainer');
});

test('a version 2 database opens with every dataset given the default validation part and doubled names suffixed', async ({ page }) => {
  // Written before the page's own scripts run, as the page of version 2 left it (one connection,
  // closed when done, so the page's upgrade to version 3 runs after it).
  await page.addInitScript(() => {
    if (sessionStorage.getItem('seeded')) return;
    sessionStorage.setItem('seeded', '1');
    const open = indexedDB.open('qmd-lab', 2);
    open.onupgradeneeded = () => {
      const db = open.result;
      const datasets = db.createObjectStore('datasets', { keyPath: 'id' });
      db.createObjectStore('rows', { keyPath: ['datasetId', 'index'] }).createIndex('byDataset', 'datasetId');
      db.createObjectStore('rejections', { keyPath: ['datasetId', 'line'] }).createIndex('byDataset', 'datasetId');
      db.createObjectStore('querySets', { keyPath: 'id' });
      db.createObjectStore('results', { keyPath: 'id' });
      const adapters = db.createObjectStore('adapters', { keyPath: 'id' });
      db.createObjectStore('adapterFiles', { keyPath: 'adapterId' });
      const formats = { input_output: 10, messages: 0, prompt_completion: 0, text: 0 };
      for (const [id, created] of [['old', 1], ['new', 2]] as const) {
        datasets.put({ id, name: 'qmd.jsonl', rows: 10, formats, rejected: 0, created, source: 'qmd.jsonl', complete: true });
      }
      for (const [id, created] of [['a1', 1], ['a2', 2]] as const) {
        adapters.put({ id, name: 'LoRA r16', rank: 16, alpha: 32, targets: ['q_proj'], useRslora: false, baseModel: null, bytes: 1, created });
      }
    };
    open.onsuccess = () => open.result.close();
  });
  await page.goto('./#/datasets');
  await expect(page.getByTestId('dataset-name')).toHaveText(['qmd.jsonl (2)', 'qmd.jsonl']);
  await expect(page.getByTestId('dataset-validation')).toHaveText(['1 row (10 %, seed 42)', '1 row (10 %, seed 42)']);
  const version = await page.evaluate(() => indexedDB.databases().then((dbs) => dbs.find((d) => d.name === 'qmd-lab')?.version));
  expect(version).toBe(DB_VERSION);
});
