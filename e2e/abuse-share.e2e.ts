// Hostile share links in the real page: the short link that once took the tab's memory is
// refused on open, naming the pair and the limit; the heaviest link the limits accept is scored in
// slices, so the page answers input while it scores (counted in event-loop turns, not seconds).
import { test, expect } from '@playwright/test';
import { MAX_EXPANSION_LINES } from '../src/scoring/limits.ts';
import { encodeShare } from '../src/share/link.ts';
import { SHARE_VERSION, type SharePayload } from '../src/share/payload.ts';
import { referenceLink } from '../src/share/reference-link.ts';

const payload = (pairs: SharePayload['pairs']): SharePayload => ({
  v: SHARE_VERSION,
  model: { base: 'Qwen/Qwen3-0.6B', adapter: null },
  profile: 'eval',
  settings: null,
  name: 'heavy',
  pairs,
});

test("the issue's ~2,300-character link is refused on open, naming the pair and the limit", async ({ page }) => {
  const link = referenceLink(JSON.stringify(payload(Array.from({ length: 100 }, () => ({ query: 'q', expansion: 'lex:\n'.repeat(1600) })))));
  await page.goto(`./#/share/${link}`);
  await expect(page.getByTestId('share-error')).toHaveAttribute('data-kind', 'invalid_payload');
  await expect(page.getByTestId('share-error')).toContainText('pairs[0]: expansion has 1,600 non-blank lines; the scorers accept at most 500');
});

test('the heaviest accepted link scores in slices: timers keep running while it scores', async ({ page }) => {
  const expansion = Array.from({ length: MAX_EXPANSION_LINES }, (_, i) => `lex: t${i}`).join('\n').slice(0, 7999);
  const link = encodeShare(payload(Array.from({ length: 60 }, (_, i) => ({ query: `t${i}`, expansion }))));
  await page.goto('./#/results');
  await page.evaluate(() => {
    const w = window as unknown as { __turns: number };
    w.__turns = 0;
    setInterval(() => w.__turns++, 0);
  });
  await page.evaluate((l) => (location.hash = `#/share/${l}`), link);
  await expect(page.getByRole('heading', { name: 'Shared: heavy' })).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('result-item')).toHaveCount(60);
  // One long task would have let the interval run about once; slices let it run between pairs.
  expect(await page.evaluate(() => (window as unknown as { __turns: number }).__turns)).toBeGreaterThan(10);
});
