// The playground with a model, on SwiftShader WebGPU (a tiny seeded Qwen3 and its PEFT adapter from
// the test hub): a model's output never lands on the user's text, every output is scored against
// the query it was generated for (Expand and each Compare column, whatever the query box says
// later), each column opens into its full breakdown, and "Copy to editor" can be undone exactly,
// after a reload too.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect, type Locator, type Page } from '@playwright/test';
import { makeTinyModel } from '../scripts/make-tiny-model.ts';
import { explain } from '../src/scoring/index.ts';
import { expandIds } from './support/engine.ts';
import { serveHub, type HubServer } from './support/hub.ts';

// SwiftShader (a CPU rasterizer) is slow: 4 tokens a run.
const NEW_TOKENS = 4;
const BASE_REPO = 'test/tiny-qwen3';
const ADAPTER_REPO = 'test/tiny-lora';
const FIRST = 'configure nginx reverse proxy';
const SECOND = 'TDS motorsports pricing';
const TYPED = 'lex: my own nginx line\nvec: typed by hand, and it must stay';

let dir: string;
let hub: HubServer | undefined;

test.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qmd-playground-'));
  await makeTinyModel(join(dir, 'base'), { seed: 7, hidden: 64, layers: 2, adapter: { dir: join(dir, 'adapter'), rank: 4 } });
  hub = await serveHub({ [BASE_REPO]: join(dir, 'base'), [ADAPTER_REPO]: join(dir, 'adapter') });
});

test.afterAll(async () => {
  await hub?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The profile numbers a breakdown shows, and what src/scoring says for the same pair. */
async function expectBreakdownOf(breakdown: Locator, query: string, expansion: string) {
  const expected = explain(query, expansion);
  await expect(breakdown.getByTestId('eval-score')).toHaveText(`${expected.eval.percentage.toFixed(1)} %`);
  await expect(breakdown.getByTestId('reward-score')).toHaveText(expected.reward.reward.toFixed(3));
  await expect(breakdown.getByTestId('parsed-line')).toHaveCount(expected.lines.length);
  if (expected.eval.deductions.length) await expect(breakdown.getByTestId('eval-notes').getByRole('listitem')).toHaveText(expected.eval.deductions);
}

const outputText = async (column: Locator) => (await column.getByTestId('output-text').textContent()) ?? '';
/** The editor's own breakdown: the one directly in the view, not inside an output panel. */
const editorBreakdown = (page: Page) => page.locator('[data-testid="view-playground"] > [data-testid="breakdown"]');

test('model output has its own box, scored against its own query; Compare columns open into breakdowns; copying can be undone', async ({ page }) => {
  test.setTimeout(600_000);
  await page.goto(`./?hub=${encodeURIComponent(hub!.url)}#/playground`);
  await page.getByTestId('base-repo').fill(BASE_REPO);
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('model-loaded')).toHaveText(BASE_REPO, { timeout: 120_000 });
  await page.getByTestId('adapter-repo').fill(ADAPTER_REPO);
  await page.getByTestId('load-adapter').click();
  await expect(page.getByTestId('adapter-option')).toBeChecked({ timeout: 60_000 });
  await page.getByTestId('greedy').check();
  await page.getByTestId('max-tokens').fill(String(NEW_TOKENS));

  // Enter runs Expand; the user's expansion stays as typed.
  await page.getByTestId('query-input').fill(FIRST);
  await page.getByTestId('expansion-input').fill(TYPED);
  expect(await expandIds(page)).toHaveLength(NEW_TOKENS);
  await expect(page.getByTestId('expansion-input')).toHaveValue(TYPED);
  const expanded = page.getByTestId('expand-column');
  await expect(expanded).toHaveAttribute('data-query', FIRST);
  const firstText = await outputText(expanded);
  expect(firstText).not.toBe('');
  await expanded.getByTestId('column-breakdown-toggle').click();
  await expectBreakdownOf(page.getByTestId('column-breakdown'), FIRST, firstText);
  await expectBreakdownOf(editorBreakdown(page), FIRST, TYPED);

  // A new query, then Compare: each column is scored against the query it was generated for.
  await page.getByTestId('query-input').fill(SECOND);
  await page.getByTestId('compare').click();
  const columns = page.getByTestId('compare-column');
  await expect(columns).toHaveCount(2);
  await expect(columns.nth(1)).toHaveAttribute('data-done', 'true', { timeout: 180_000 });
  const texts = [await outputText(columns.nth(0)), await outputText(columns.nth(1))];
  expect(texts[0]).not.toEqual(texts[1]); // base and adapter differ, or the columns could be swapped unnoticed
  for (const i of [1, 0]) {
    await expect(columns.nth(i)).toHaveAttribute('data-query', SECOND);
    await columns.nth(i).getByTestId('column-breakdown-toggle').click();
    await expect(columns.nth(i).getByTestId('column-breakdown-toggle')).toHaveAttribute('aria-expanded', 'true');
    const breakdown = page.getByTestId('column-breakdown');
    await expect(breakdown).toHaveAttribute('data-adapter', (await columns.nth(i).getAttribute('data-adapter')) ?? '');
    await expectBreakdownOf(breakdown, SECOND, texts[i]);
  }
  await expectBreakdownOf(editorBreakdown(page), SECOND, TYPED);
  await page.screenshot({ path: '/tmp/shots/playground-compare.png', fullPage: true });

  // Editing the query afterwards changes nothing in the outputs, and says so.
  const later = 'a query typed after Compare';
  await page.getByTestId('query-input').fill(later);
  await expect(page.getByTestId('output-query-changed')).toBeVisible();
  await expectBreakdownOf(page.getByTestId('column-breakdown'), SECOND, texts[0]);

  // Copy an output into the editor; undo brings back exactly what was typed, after a reload too.
  await columns.nth(1).getByTestId('copy-to-editor').click();
  await expect(page.getByTestId('query-input')).toHaveValue(SECOND);
  await expect(page.getByTestId('expansion-input')).toHaveValue(texts[1]);
  await expectBreakdownOf(editorBreakdown(page), SECOND, texts[1]);
  await page.reload();
  await expect(page.getByTestId('expansion-input')).toHaveValue(texts[1]);
  await page.getByTestId('undo-placement').click();
  await expect(page.getByTestId('query-input')).toHaveValue(later);
  await expect(page.getByTestId('expansion-input')).toHaveValue(TYPED);
  await expect(page.getByTestId('undo-placement')).toHaveCount(0);
});
