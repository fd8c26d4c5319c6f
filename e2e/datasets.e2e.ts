import { test, expect } from '@playwright/test';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedFile } from '../src/testing/shared.ts';

const training = sharedFile('data/qmd_expansion.jsonl');

test('the QMD training set imports with its row and format counts, and is still there after a reload', async ({ page }) => {
  test.skip(!training, 'needs ../shared/data/qmd_expansion.jsonl');
  // Expected counts straight from the file: every line is an {input, output} object.
  const lines = readFileSync(training!, 'utf8').split('\n').filter((line) => line.trim() !== '');
  const inputOutput = lines.filter((line) => {
    const row = JSON.parse(line) as Record<string, unknown>;
    return typeof row.input === 'string' && typeof row.output === 'string';
  }).length;
  expect(inputOutput).toBe(lines.length);

  await page.goto('./#/datasets');
  await expect(page.getByTestId('datasets-empty')).toBeVisible();
  await page.getByTestId('dataset-file').setInputFiles(training!);
  await expect(page.getByTestId('import-report')).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('report-rows')).toHaveText(lines.length.toLocaleString('en-US'));
  await expect(page.getByTestId('report-format-input_output')).toContainText(inputOutput.toLocaleString('en-US'));
  await expect(page.getByTestId('report-format-messages')).toContainText(': 0');
  const row = page.getByTestId('dataset-row');
  await expect(row).toHaveCount(1);
  await expect(row.getByTestId('dataset-rows')).toHaveText('5,730');
  await expect(row.getByTestId('dataset-formats')).toHaveText(`input/output ${inputOutput.toLocaleString('en-US')}`);
  await page.screenshot({ path: '/tmp/shots/datasets.png', fullPage: true });

  await page.reload();
  await expect(page.getByTestId('dataset-row').getByTestId('dataset-rows')).toHaveText('5,730');

  await page.getByTestId('dataset-name').click();
  await expect(page.getByTestId('dataset-title')).toHaveText('qmd_expansion.jsonl');
  await expect(page.getByTestId('rows-range')).toHaveText('1–25 of 5,730');
  await expect(page.getByTestId('dataset-row-item').first()).toContainText(JSON.parse(lines[0]).input);
  await page.getByTestId('rows-search').fill('kubernetes');
  const matching = lines.filter((line) => {
    const r = JSON.parse(line) as { input: string; output: string };
    return (r.input + '\n' + r.output).toLowerCase().includes('kubernetes');
  }).length;
  await expect(page.getByTestId('rows-range')).toContainText(`of ${matching.toLocaleString('en-US')} matching`);
  await page.getByTestId('audit-run').click();
  await expect(page.getByTestId('stats')).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('worst-rows')).toBeVisible();
  await page.screenshot({ path: '/tmp/shots/dataset.png', fullPage: true });
});

test('broken lines are reported with their line numbers; a delete removes the dataset', async ({ page }) => {
  const dir = mkdtempSync(join(tmpdir(), 'qmd-lab-e2e-'));
  const file = join(dir, 'broken.jsonl');
  const good = (i: number) => JSON.stringify({ input: `query number ${i}`, output: `lex: query ${i}\nvec: what is query number ${i}` });
  writeFileSync(file, [good(1), '{"input": "cut off', good(2), JSON.stringify({ input: 'no output here' }), good(3), '[1, 2]', good(4)].join('\n') + '\n');

  await page.goto('./#/datasets');
  await page.getByTestId('dataset-file').setInputFiles(file);
  await expect(page.getByTestId('report-rows')).toHaveText('4');
  await expect(page.getByTestId('report-rejected')).toHaveText('3');
  await expect(page.getByTestId('rejection-line')).toHaveText(['2', '4', '6']);
  await expect(page.getByTestId('rejection').nth(1)).toContainText('output');
  await page.screenshot({ path: '/tmp/shots/datasets-report.png', fullPage: true });

  // The validation part is a setting of the dataset (e2e/dataset-split.e2e.ts), not more datasets.
  await expect(page.getByTestId('dataset-row')).toHaveCount(1);
  const original = page.getByTestId('dataset-row').filter({ has: page.getByRole('link', { name: 'broken.jsonl', exact: true }) });
  await original.getByTestId('delete-dataset').click();
  await original.getByTestId('delete-dataset-yes').click();
  await expect(page.getByTestId('dataset-row')).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'broken.jsonl', exact: true })).toHaveCount(0);
});

test('an import shows its progress and can be cancelled without leaving a dataset behind', async ({ page }) => {
  const dir = mkdtempSync(join(tmpdir(), 'qmd-lab-e2e-'));
  const file = join(dir, 'large.jsonl');
  const rows = Array.from({ length: 150_000 }, (_, i) => JSON.stringify({ input: `query ${i}`, output: `lex: term ${i}\nvec: a question about item ${i}` }));
  writeFileSync(file, rows.join('\n') + '\n');

  await page.goto('./#/datasets');
  await page.getByTestId('dataset-file').setInputFiles(file);
  const progress = page.getByTestId('import-progress');
  await expect(progress).toContainText(/Importing large\.jsonl: [1-9][\d,]* rows/, { timeout: 60_000 });
  await page.getByTestId('import-cancel').click();
  await expect(page.getByTestId('import-cancelled')).toContainText('cancelled; nothing was kept');
  await expect(page.getByTestId('datasets-empty')).toBeVisible();
  await page.reload();
  await expect(page.getByTestId('datasets-empty')).toBeVisible();
});
