import { test, expect } from '@playwright/test';

test('the header shows the WebGPU adapter the browser reports, and storage use', async ({ page }) => {
  await page.goto('./');
  const gpu = page.getByTestId('webgpu-status');
  await expect(gpu).toHaveAttribute('data-state', 'ready', { timeout: 30_000 });
  const reported = await page.evaluate(async () => {
    const adapter = await navigator.gpu.requestAdapter();
    return { vendor: adapter!.info.vendor, architecture: adapter!.info.architecture, f16: adapter!.features.has('shader-f16') };
  });
  await expect(page.getByTestId('webgpu-adapter')).toHaveText(`${reported.vendor} · ${reported.architecture}`);
  await expect(gpu).toContainText(reported.f16 ? 'shader-f16 ✓' : 'no shader-f16');
  await expect(gpu).toContainText(/buffers ≤ \d/);
  await expect(page.getByTestId('storage-status')).toContainText(/used of/);
  await page.screenshot({ path: '/tmp/shots/playground.png', fullPage: true });
});

test('nav links route through the hash, by keyboard too, and model views say what is missing', async ({ page }) => {
  await page.goto('./');
  await expect(page.getByTestId('view-playground')).toBeVisible();
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: 'Playground' })).toHaveAttribute('aria-current', 'page');

  await nav.getByRole('link', { name: 'Train' }).focus();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/#\/train$/);
  await expect(page.getByTestId('train-model-missing')).toBeVisible();
  await page.screenshot({ path: '/tmp/shots/train.png', fullPage: true });

  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/#\/eval$/);
  await expect(page.getByTestId('view-eval').getByTestId('model-missing')).toBeVisible();
  await expect(page.getByTestId('results-empty')).toBeVisible();
  await page.screenshot({ path: '/tmp/shots/eval.png', fullPage: true });

  await page.goto('./#/nowhere');
  await expect(page.getByTestId('view-unknown')).toContainText('#/nowhere');
});

test('persistent storage can be requested, and the answer is shown', async ({ page }) => {
  await page.goto('./');
  const storage = page.getByTestId('storage-status');
  await storage.getByRole('button', { name: 'Request persistent storage' }).click();
  const granted = await page.evaluate(() => navigator.storage.persisted());
  if (granted) await expect(storage.getByTestId('storage-persisted')).toBeVisible();
  else await expect(storage).toContainText('declined');
});

test('views stay readable at a narrow width', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto('./#/playground');
  await expect(page.getByTestId('profile-reward')).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: '/tmp/shots/playground-narrow.png', fullPage: true });
  await page.goto('./#/datasets');
  await expect(page.getByTestId('drop-zone')).toBeVisible();
  await page.screenshot({ path: '/tmp/shots/datasets-narrow.png', fullPage: true });
});
