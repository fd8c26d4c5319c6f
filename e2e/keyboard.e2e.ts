// The page works from the keyboard: rows expand with Enter and Space, the focused control
// shows an outline, Escape leaves an edit without saving.
import { test, expect, type Locator, type Page } from '@playwright/test';
import { encodeShare } from '../src/share/link.ts';
import { SHARE_VERSION } from '../src/share/payload.ts';

/** Tabs forward until `target` has focus (at most `limit` presses), as a keyboard user would. */
async function tabTo(page: Page, target: Locator, limit = 60) {
  for (let i = 0; i < limit; i++) {
    if (await target.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`tabTo: the target never got focus in ${limit} Tab presses`);
}

/** The outline the browser draws around the focused element. */
function outline(target: Locator) {
  return target.evaluate((el) => {
    const style = getComputedStyle(el);
    return { style: style.outlineStyle, width: parseFloat(style.outlineWidth), visible: el.matches(':focus-visible') };
  });
}

const PAIRS = [
  { query: 'sqlite wal mode', expansion: 'lex: sqlite wal\nvec: what is write-ahead logging in sqlite' },
  { query: 'rust lifetimes', expansion: 'lex: rust lifetime annotations\nvec: how do lifetimes work in rust' },
];

test('result rows expand and collapse with Enter and Space, with a visible focus outline', async ({ page }) => {
  const payload = encodeShare({ v: SHARE_VERSION, model: { base: 'Qwen/Qwen3-0.6B', adapter: null }, profile: 'eval', settings: null, name: 'keys', pairs: PAIRS });
  await page.goto(`./#/share/${payload}`);
  const toggles = page.getByTestId('item-toggle');
  await expect(toggles).toHaveCount(2);
  await tabTo(page, toggles.nth(1));
  expect(await outline(toggles.nth(1))).toEqual({ style: 'solid', width: 2, visible: true });

  await page.keyboard.press('Space');
  await expect(toggles.nth(1)).toHaveAttribute('aria-expanded', 'true');
  await expect(page.getByTestId('breakdown')).toHaveCount(1);
  await expect(page.getByTestId('parsed-line').first()).toContainText('rust lifetime annotations');
  await page.keyboard.press('Enter');
  await expect(toggles.nth(1)).toHaveAttribute('aria-expanded', 'false');
  await expect(page.getByTestId('breakdown')).toHaveCount(0);

  // Shift+Tab back to the first row keeps working the same way.
  await page.keyboard.press('Shift+Tab');
  await expect(toggles.nth(0)).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(toggles.nth(0)).toHaveAttribute('aria-expanded', 'true');
});

test('query sets and audit rows open by keyboard; Escape cancels a rename and a delete', async ({ page }) => {
  await page.goto('./#/datasets');
  const summary = page.getByTestId('builtin-query-set').locator('summary');
  await tabTo(page, summary);
  expect((await outline(summary)).style).toBe('solid');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('builtin-query-set').locator('details')).toHaveAttribute('open', '');
  await page.keyboard.press('Space');
  await expect(page.getByTestId('builtin-query-set').locator('details')).not.toHaveAttribute('open');

  const text = PAIRS.map((p) => JSON.stringify({ input: p.query, output: p.expansion })).join('\n');
  await page.getByTestId('dataset-file').setInputFiles({ name: 'keys.jsonl', mimeType: 'application/x-ndjson', buffer: Buffer.from(text) });
  const row = page.getByTestId('dataset-row');
  await expect(row).toHaveCount(1);

  await tabTo(page, row.getByTestId('rename'));
  expect((await outline(row.getByTestId('rename'))).visible).toBe(true);
  await page.keyboard.press('Enter');
  await expect(row.getByTestId('rename-input')).toBeFocused();
  await page.keyboard.type('a name never saved');
  await page.keyboard.press('Escape');
  await expect(row.getByTestId('rename-input')).toHaveCount(0);
  await expect(row.getByTestId('rename')).toBeFocused();
  await expect(row.getByTestId('dataset-name')).toHaveText('keys.jsonl');
  await page.reload();
  await expect(page.getByTestId('dataset-name')).toHaveText('keys.jsonl');

  // Delete asks first; focus goes to "No", and Escape backs out to the Delete button.
  await tabTo(page, row.getByTestId('delete-dataset'));
  await page.keyboard.press('Enter');
  await expect(row.getByRole('button', { name: 'No' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(row.getByTestId('delete-dataset')).toBeFocused();
  await expect(row).toHaveCount(1);

  await row.getByTestId('dataset-name').click();
  await page.getByTestId('audit-run').click();
  const expander = page.getByTestId('worst-rows').getByRole('button').first();
  await tabTo(page, expander);
  await page.keyboard.press('Space');
  await expect(expander).toHaveAttribute('aria-expanded', 'true');
  await expect(page.getByTestId('audit').getByTestId('breakdown')).toHaveCount(1);
  await page.keyboard.press('Enter');
  await expect(expander).toHaveAttribute('aria-expanded', 'false');
  await expect(page.getByTestId('audit').getByTestId('breakdown')).toHaveCount(0);
});
