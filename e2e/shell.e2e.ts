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
  await expect(page).toHaveURL(/#\/grpo$/);

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

test('the page follows prefers-color-scheme: a dark palette with readable text', async ({ browser }) => {
  const colors = async (scheme: 'light' | 'dark') => {
    const context = await browser.newContext({ colorScheme: scheme });
    const page = await context.newPage();
    await page.goto('./#/playground');
    await expect(page.getByTestId('profile-eval')).toBeVisible();
    const read = await page.evaluate(() => {
      const style = (selector: string) => getComputedStyle(document.querySelector(selector)!);
      return {
        page: style('html').backgroundColor,
        panel: style('.panel').backgroundColor,
        ink: style('html').color,
        muted: style('.muted').color,
        input: style('[data-testid="expansion-input"]').backgroundColor,
      };
    });
    await page.screenshot({ path: `/tmp/shots/playground-${scheme}.png`, fullPage: true });
    await context.close();
    return read;
  };
  /** WCAG contrast ratio of two "rgb(r, g, b)" colours. */
  const contrast = (a: string, b: string) => {
    const luminance = (rgb: string) => {
      const [r, g, bl] = rgb.match(/\d+/g)!.slice(0, 3).map((v) => {
        const c = Number(v) / 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
    };
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const light = await colors('light');
  const dark = await colors('dark');
  expect(dark.page).not.toBe(light.page);
  expect(contrast(dark.page, 'rgb(0, 0, 0)')).toBeLessThan(2); // a dark ground…
  expect(contrast(dark.input, 'rgb(0, 0, 0)')).toBeLessThan(2); // …form fields included
  for (const side of [light, dark]) {
    expect(contrast(side.ink, side.panel)).toBeGreaterThan(7);
    expect(contrast(side.muted, side.panel)).toBeGreaterThan(4.5);
  }
});

test('each view has one help line linking into the help page, and a returning user hides them for good', async ({ page }) => {
  await page.goto('./#/playground');
  const tip = page.getByTestId('help-tip');
  await expect(tip).toContainText('lex');
  await tip.getByTestId('help-tip-link').click();
  await expect(page).toHaveURL(/#\/help\/lines$/);
  await expect(page.getByTestId('help-lines')).toBeInViewport();
  await expect(page.getByTestId('help-lines')).toContainText('hyde:');
  await expect(page.getByTestId('help-profiles')).toContainText('reward');
  await expect(page.getByTestId('help-tip')).toHaveCount(0); // the help page needs no tip

  for (const hash of ['#/datasets', '#/train', '#/eval', '#/results']) {
    await page.goto(`./${hash}`);
    await expect(tip).toBeVisible();
    const section = await tip.getAttribute('data-section');
    await tip.getByTestId('help-tip-link').click();
    await expect(page.getByTestId(`help-${section}`)).toBeInViewport();
  }

  await page.goto('./#/results');
  await tip.getByTestId('help-tip-hide').click();
  await expect(tip).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId('view-results')).toBeVisible();
  await expect(tip).toHaveCount(0);
  await page.goto('./#/playground');
  await expect(page.getByTestId('view-playground')).toBeVisible();
  await expect(tip).toHaveCount(0);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Help' }).click();
  await page.getByTestId('help-tips-show').click();
  await page.goto('./#/playground');
  await expect(tip).toBeVisible();
});
