import { test, expect, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { sharedFile } from '../src/testing/shared.ts';
import { encodeShare } from '../src/share/link.ts';
import { SHARE_VERSION } from '../src/share/payload.ts';

const evalFile = sharedFile('data/evaluation_v4.json');

/** The per-query table as text: query, score, rating per row. */
async function itemTable(page: Page): Promise<string[][]> {
  const rows = page.getByTestId('result-item');
  await expect(rows.first()).toBeVisible();
  return rows.evaluateAll((trs) =>
    trs.map((tr) => ['item-query', 'item-score', 'item-rating'].map((id) => tr.querySelector(`[data-testid="${id}"]`)!.textContent!.trim())),
  );
}

test('a Python eval file imports with its 98.8 % average, and a share link shows the same table elsewhere', async ({ page, browser }) => {
  test.skip(!evalFile, 'needs ../shared/data/evaluation_v4.json');
  const stored = JSON.parse(readFileSync(evalFile!, 'utf8')) as { query: string }[];
  await page.goto('./#/results');
  await page.getByTestId('python-eval-file').setInputFiles(evalFile!);
  await expect(page.getByTestId('import-average')).toHaveText('98.8 %');
  await expect(page.getByTestId('disagreements-none')).toBeVisible();
  await expect(page.getByTestId('result-row')).toHaveCount(1);
  await expect(page.getByTestId('result-average')).toHaveText('98.8 %');
  await page.screenshot({ path: '/tmp/shots/results.png', fullPage: true });

  await page.getByTestId('result-row').getByRole('link').click();
  await expect(page.getByTestId('summary-eval')).toHaveText('98.8 %');
  const table = await itemTable(page);
  expect(table.map((row) => row[0])).toEqual(stored.map((item) => item.query));

  // A row opens by keyboard into the full breakdown.
  await page.getByTestId('item-toggle').first().focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('item-toggle').first()).toHaveAttribute('aria-expanded', 'true');
  await expect(page.getByTestId('breakdown')).toHaveCount(1);
  await expect(page.getByTestId('breakdown').getByTestId('eval-score')).toHaveText(table[0][1]);
  await page.screenshot({ path: '/tmp/shots/result.png', fullPage: true });

  await page.getByTestId('share-button').click();
  const link = await page.getByTestId('share-link').inputValue();
  expect(link).toContain('#/share/');

  const elsewhere = await browser.newContext();
  const viewer = await elsewhere.newPage();
  await viewer.goto(link);
  await expect(viewer.getByTestId('summary-eval')).toHaveText('98.8 %');
  expect(await itemTable(viewer)).toEqual(table);
  await viewer.screenshot({ path: '/tmp/shots/share.png', fullPage: true });
  await viewer.getByTestId('save-shared').click();
  await expect(viewer.getByTestId('share-saved')).toBeVisible();
  await viewer.goto(link.replace(/#.*/, '#/results'));
  await expect(viewer.getByTestId('result-row')).toHaveCount(1);
  await elsewhere.close();
});

test('two results compare per query', async ({ page }) => {
  test.skip(!evalFile, 'needs ../shared/data/evaluation_v4.json');
  const grpo = sharedFile('data/evaluation_v4_grpo.json');
  test.skip(!grpo, 'needs ../shared/data/evaluation_v4_grpo.json');
  await page.goto('./#/results');
  await page.getByTestId('python-eval-file').setInputFiles(evalFile!);
  await expect(page.getByTestId('import-average')).toHaveText('98.8 %');
  await page.getByTestId('python-eval-file').setInputFiles(grpo!);
  await expect(page.getByTestId('result-row')).toHaveCount(2);
  await page.getByRole('link', { name: 'evaluation_v4', exact: true }).click();
  await page.getByTestId('compare-select').selectOption({ label: 'evaluation_v4_grpo' });
  const rows = page.getByTestId('compare-row');
  await expect(rows).toHaveCount(21);
  await expect(page.getByTestId('compare')).toContainText('98.8 %');
  await page.screenshot({ path: '/tmp/shots/compare.png', fullPage: true });
});

test('a shared link renders markup as text and explains broken links', async ({ page }) => {
  const payload = encodeShare({
    v: SHARE_VERSION,
    model: { base: '<img src=x onerror="window.__pwned = 1">', adapter: null },
    profile: 'eval',
    settings: null,
    name: '<script>window.__pwned = 2</script>',
    pairs: [{ query: '<b>bold</b> query', expansion: 'lex: <img src=x onerror="window.__pwned = 3">\nvec: <script>window.__pwned = 4</script> text' }],
  });
  await page.goto(`./#/share/${payload}`);
  await expect(page.getByRole('heading', { name: 'Shared: <script>window.__pwned = 2</script>' })).toBeVisible();
  await expect(page.getByTestId('item-query')).toHaveText('<b>bold</b> query');
  await page.getByTestId('item-toggle').click();
  await expect(page.getByText('<img src=x onerror="window.__pwned = 3">', { exact: true })).toBeVisible();
  await expect(page.locator('main').locator('script, img, b')).toHaveCount(0);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();

  await page.goto(`./#/share/${payload.slice(0, payload.length - 12)}`);
  await expect(page.getByTestId('share-error')).toHaveAttribute('data-kind', 'truncated');
  await expect(page.getByTestId('share-error')).toContainText('cut off');
  const damaged = payload.slice(0, 20) + (payload[20] === 'A' ? 'B' : 'A') + payload.slice(21);
  await page.goto(`./#/share/${damaged}`);
  await expect(page.getByTestId('share-error')).toHaveAttribute('data-kind', 'corrupted');
  await page.goto(`./#/share/${SHARE_VERSION + 1}${payload.slice(String(SHARE_VERSION).length)}`);
  await expect(page.getByTestId('share-error')).toHaveAttribute('data-kind', 'future_version');
  await expect(page.getByTestId('share-error')).toContainText('newer version');
  await page.screenshot({ path: '/tmp/shots/share-error.png', fullPage: true });
});
