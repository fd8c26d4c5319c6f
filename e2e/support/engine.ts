// Page helpers shared by the engine e2e tests.
import { expect, type Page } from '@playwright/test';

/** Presses Enter in the query box and returns the token ids of that Expand run. */
export async function expandIds(page: Page): Promise<number[]> {
  const generation = page.getByTestId('generation');
  // Each run bumps data-run: waiting for the next value never mistakes the previous run's tokens for this one's.
  const before = (await generation.count()) ? Number(await generation.getAttribute('data-run')) : 0;
  await page.getByTestId('query-input').press('Enter');
  await expect(generation).toHaveAttribute('data-run', String(before + 1));
  await expect(generation).toHaveAttribute('data-done', 'true', { timeout: 120_000 });
  const ids = await generation.getAttribute('data-token-ids');
  return ids ? ids.split(',').map(Number) : [];
}
