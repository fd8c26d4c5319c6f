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

test('two results compare per query: this − other, wins / ties / losses, both expansions side by side', async ({ page }) => {
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
  await expect(page.getByTestId('compare-totals')).toContainText('98.8 %');
  await expect(page.getByTestId('compare-legend')).toContainText('this evaluation_v4 against other evaluation_v4_grpo');
  await expect(page.getByTestId('compare-legend')).toContainText('Δ is this − other');

  // The counts, from the Python files' own scores: this (v4) against other (GRPO).
  type Stored = { query: string; expansion: string; scores: { percentage: number } };
  const mine = JSON.parse(readFileSync(evalFile!, 'utf8')) as Stored[];
  const theirs = JSON.parse(readFileSync(grpo!, 'utf8')) as Stored[];
  const pairs = mine.map((a) => [a, theirs.find((b) => b.query === a.query)!] as const);
  const expected = {
    wins: pairs.filter(([a, b]) => a.scores.percentage > b.scores.percentage).length,
    ties: pairs.filter(([a, b]) => a.scores.percentage === b.scores.percentage).length,
    losses: pairs.filter(([a, b]) => a.scores.percentage < b.scores.percentage).length,
  };
  expect(expected.wins + expected.losses).toBeGreaterThan(0); // the files must differ somewhere for this to test anything
  const evalTally = page.getByTestId('tally-eval');
  for (const [name, count] of Object.entries(expected)) await expect(evalTally.getByTestId(name)).toHaveText(String(count));

  // Every delta's sign and colour say how this result did: + and green where it scored higher.
  const deltas = await rows.evaluateAll((trs) =>
    trs.map((tr) => {
      const cells = [...tr.querySelectorAll('td')].map((td) => td.textContent!.trim());
      const delta = tr.querySelector('[data-testid="delta-eval"]')!;
      return { mine: parseFloat(cells[1]), theirs: parseFloat(cells[2]), text: delta.textContent!.trim(), color: getComputedStyle(delta).color };
    }),
  );
  const colors = await page.evaluate(() => {
    const probe = document.createElement('span');
    document.body.append(probe);
    const read = (v: string) => ((probe.style.color = `var(${v})`), getComputedStyle(probe).color);
    const result = { good: read('--good'), bad: read('--bad') };
    probe.remove();
    return result;
  });
  for (const d of deltas) {
    if (d.mine > d.theirs) expect(d, 'this scored higher').toMatchObject({ text: `+${(d.mine - d.theirs).toFixed(1)}`, color: colors.good });
    else if (d.mine < d.theirs) expect(d, 'this scored lower').toMatchObject({ text: `−${(d.theirs - d.mine).toFixed(1)}`, color: colors.bad });
    else expect(d.text).toBe('0.0');
  }

  // A row opens into both expansions, side by side.
  const differing = deltas.findIndex((d) => d.mine !== d.theirs);
  await rows.nth(differing).getByTestId('compare-toggle').click();
  const sides = page.getByTestId('compare-side');
  await expect(sides).toHaveCount(2);
  const [a, b] = pairs[differing];
  const firstLine = (expansion: string) => expansion.trim().split('\n')[0].trim().replace(/^(lex|vec|hyde):\s*/, '').slice(0, 30);
  await expect(sides.nth(0)).toHaveAttribute('data-side', 'this');
  await expect(sides.nth(0)).toContainText('evaluation_v4');
  await expect(sides.nth(0).getByTestId('parsed-line').first()).toContainText(firstLine(a.expansion));
  await expect(sides.nth(1)).toContainText('evaluation_v4_grpo');
  await expect(sides.nth(1).getByTestId('parsed-line').first()).toContainText(firstLine(b.expansion));
  const [left, right] = [await sides.nth(0).boundingBox(), await sides.nth(1).boundingBox()];
  expect(right!.x).toBeGreaterThan(left!.x + left!.width - 1);
  expect(right!.y).toBe(left!.y);
  await page.screenshot({ path: '/tmp/shots/compare.png', fullPage: true });

  // At phone width no number breaks over two lines ("100.0" above "%"); headers are words and may wrap.
  await page.setViewportSize({ width: 390, height: 844 });
  const broken = await page.locator('td.num').evaluateAll((cells) =>
    cells.filter((cell) => {
      const range = document.createRange();
      range.selectNodeContents(cell);
      const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
      return lines.size > 1;
    }).map((cell) => cell.textContent),
  );
  expect(broken).toEqual([]);
  // …and the page itself fits: wide tables and the chart scroll inside their panels.
  expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
  await page.screenshot({ path: '/tmp/shots/compare-narrow.png', fullPage: true });
});

test('a share link keeps the time the result was made and leaves the page\'s ?hub= behind', async ({ page, browser }) => {
  const created = Date.UTC(2026, 0, 2, 3, 4);
  const payload = encodeShare({
    v: SHARE_VERSION,
    created,
    model: { base: 'Qwen/Qwen3-0.6B', adapter: null },
    profile: 'eval',
    settings: null,
    name: 'made in January',
    pairs: [{ query: 'sqlite wal mode', expansion: 'lex: sqlite wal\nvec: what is write-ahead logging in sqlite' }],
  });
  const hub = encodeURIComponent('http://127.0.0.1:9/models');
  await page.goto(`./?hub=${hub}#/share/${payload}`);
  const shown = await page.evaluate((ms) => new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }), created);
  await expect(page.getByTestId('result-detail')).toContainText(shown);
  await page.getByTestId('save-shared').click();
  await page.getByTestId('share-saved').getByRole('link').click();
  await expect(page.getByTestId('view-result')).toContainText(shown);

  await page.getByTestId('share-button').click();
  const link = await page.getByTestId('share-link').inputValue();
  expect(link).not.toContain('hub=');
  expect(link.startsWith(new URL(`./#/share/${SHARE_VERSION}.`, page.url()).href)).toBe(true);
  const elsewhere = await browser.newContext();
  const viewer = await elsewhere.newPage();
  await viewer.goto(link);
  await expect(viewer.getByTestId('result-detail')).toContainText(shown);
  await elsewhere.close();
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
