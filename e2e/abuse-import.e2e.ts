// Hostile files through the real page: one bad row never discards a dataset, and a hostile
// Python eval file with a deep stored score is imported with that score set aside, instead of crashing the view.
import { test, expect } from '@playwright/test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'qmd-lab-abuse-'));
const good = (i: number) => JSON.stringify({ input: `query number ${i}`, output: `lex: query ${i}\nvec: what is query number ${i}` });
const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

test('a row nested 10,000 deep is rejected by its line; the dataset and the one before it are kept', async ({ page }) => {
  const earlier = join(dir, 'earlier.jsonl');
  writeFileSync(earlier, [good(1), good(2)].join('\n'));
  const hostile = join(dir, 'hostile.jsonl');
  // CR-only line breaks, and an invalid UTF-8 byte on line 5.
  writeFileSync(hostile, Buffer.concat([
    Buffer.from([good(10), good(11), `{"input": "deep", "output": "lex: deep", "extra": ${deep(10_000)}}`, good(12), '{"input": "caf'].join('\r')),
    Buffer.from([0xe9]),
    Buffer.from(['", "output": "lex: cafe"}', good(13)].join('\r')),
  ]));

  await page.goto('./#/datasets');
  await page.getByTestId('dataset-file').setInputFiles(earlier);
  await expect(page.getByTestId('report-rows')).toHaveText('2');
  await page.getByTestId('dataset-file').setInputFiles(hostile);
  await expect(page.getByTestId('import-report')).toContainText('hostile.jsonl');
  await expect(page.getByTestId('report-rows')).toHaveText('4');
  await expect(page.getByTestId('rejection-line')).toHaveText(['3', '5']);
  await expect(page.getByTestId('rejection').nth(0)).toContainText('arrays and objects nest deeper than 64 levels');
  await expect(page.getByTestId('rejection').nth(1)).toContainText('invalid UTF-8 at byte 15 of the line');

  await page.reload();
  const listed = await page.getByTestId('dataset-row').evaluateAll((trs) =>
    trs.map((tr) => `${tr.querySelector('[data-testid="dataset-name"]')!.textContent} = ${tr.querySelector('[data-testid="dataset-rows"]')!.textContent}`).sort(),
  );
  expect(listed).toEqual(['earlier.jsonl = 2', 'hostile.jsonl = 4']);
});

test('a Python eval file with a stored score nested 10,000 deep imports; that score is set aside, naming the item', async ({ page }) => {
  const file = join(dir, 'deep-eval.json');
  const item = (query: string, total: string) => `{"query": "${query}", "expansion": "lex: ${query}", "scores": {"total": ${total}}}`;
  writeFileSync(file, `[${item('rust', '1')}, ${item('docker', deep(10_000))}]`);

  await page.goto('./#/results');
  await page.getByTestId('python-eval-file').setInputFiles(file);
  await expect(page.getByTestId('import-summary')).toBeVisible();
  await expect(page.getByTestId('uncompared')).toHaveText('item 1: stored "scores" nests deeper than 64 levels: not compared');
  await expect(page.getByTestId('results-error')).toHaveCount(0);
  await expect(page.getByTestId('result-row')).toHaveCount(1);
});
