// The engine's state across reloads, on SwiftShader WebGPU with a tiny seeded Qwen3 and its PEFT
// adapter served like the hub: the memory report counts the adapter's bytes, a page reload offers
// to restore the adapters that were loaded (from the download cache), an error clears once the
// same kind of action succeeds, and an adapter repo typed as the base model is named as one.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect, type Page } from '@playwright/test';
import { makeTinyModel } from '../scripts/make-tiny-model.ts';
import { expandIds } from './support/engine.ts';
import { serveHub, type HubServer } from './support/hub.ts';

const BASE_REPO = 'test/tiny-qwen3';
const ADAPTER_REPO = 'test/tiny-lora';
const QUERY = 'postgres index tuning';

let dir: string;
let hub: HubServer;

test.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qmd-engine-state-'));
  await makeTinyModel(join(dir, 'base'), { seed: 7, hidden: 64, layers: 2, adapter: { dir: join(dir, 'adapter'), rank: 16 } });
  hub = await serveHub({ [BASE_REPO]: join(dir, 'base'), [ADAPTER_REPO]: join(dir, 'adapter') });
});

test.afterAll(async () => {
  await hub?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function loadBase(page: Page, repo = BASE_REPO): Promise<void> {
  await page.getByTestId('base-repo').fill(repo);
  await page.getByTestId('load-model').click();
}

async function loraBytes(page: Page): Promise<number> {
  return Number(await page.getByTestId('memory-report').getAttribute('data-lora-bytes'));
}

test('adapter bytes are reported, a reload offers the adapters back, errors clear on success, an adapter repo is not a base', async ({ page }) => {
  test.setTimeout(420_000);
  await page.goto(`./?hub=${encodeURIComponent(hub.url)}#/playground`);
  await loadBase(page);
  await expect(page.getByTestId('model-loaded')).toHaveText(BASE_REPO, { timeout: 120_000 });
  await expect(page.getByTestId('restore-adapters')).toHaveCount(0);
  await expect(page.getByTestId('memory-report')).toHaveAttribute('data-lora-bytes', '0');

  await page.getByTestId('adapter-repo').fill(ADAPTER_REPO);
  await page.getByTestId('load-adapter').click();
  await expect(page.getByTestId('adapter-option')).toBeChecked({ timeout: 60_000 });
  // r 16 on all seven projections of 2 layers: A [in, r] and B [r, out] in float32, plus the scale. in + out per
  // layer (hidden 64, MLP 128, 4 query heads and 2 KV heads of 16): q 128, k 96, v 96, o 128, gate, up, down 192 each.
  const expected = 4 * 16 * 2 * (128 + 96 + 96 + 128 + 3 * 192) + 4;
  await expect.poll(() => loraBytes(page)).toBe(expected);

  await page.reload();
  await loadBase(page);
  await expect(page.getByTestId('model-loaded')).toHaveText(BASE_REPO, { timeout: 120_000 });
  const offer = page.getByTestId('restore-adapters');
  await expect(offer).toContainText(ADAPTER_REPO);
  await expect(page.getByTestId('adapter-option')).toHaveCount(0);
  hub.requests.length = 0;
  await page.getByTestId('restore-adapters-button').click();
  await expect(page.getByTestId('adapter-option')).toBeChecked({ timeout: 60_000 });
  await expect(offer).toHaveCount(0);
  expect(hub.requests.filter((r) => r.file !== '(api)')).toEqual([]); // from the download cache
  await expect.poll(() => loraBytes(page)).toBe(expected);

  // The same adapter stored in the browser and loaded from there too: both come back after a reload.
  await page.getByTestId('adapter-save').click();
  await expect(page.getByTestId('stored-adapter')).toHaveCount(1);
  await page.getByTestId('stored-adapter-load').click();
  await expect(page.getByTestId('adapter-option')).toHaveCount(2, { timeout: 60_000 });
  await page.reload();
  await loadBase(page);
  await expect(page.getByTestId('model-loaded')).toHaveText(BASE_REPO, { timeout: 120_000 });
  await expect(page.getByTestId('restore-adapters-button')).toHaveText('Restore 2 adapters');
  await page.getByTestId('restore-adapters-button').click();
  await expect(page.getByTestId('adapter-option')).toHaveCount(2, { timeout: 60_000 });
  await expect(page.getByTestId('adapter-option').nth(1)).toBeChecked(); // the stored one, selected before the reload
  await expect.poll(() => loraBytes(page)).toBe(2 * expected);

  // A failed generate (an adapter id the engine does not have), then a good one: the error goes.
  await page.evaluate(async (query) => {
    const engine = (globalThis as unknown as { qmdEngine: { generate(q: string, a: string, u: () => void): Promise<unknown> } }).qmdEngine;
    await engine.generate(query, 'no-such-adapter', () => {});
  }, QUERY);
  await expect(page.getByTestId('engine-error')).toContainText('adapter no-such-adapter is not loaded');
  await page.getByTestId('greedy').check();
  await page.getByTestId('max-tokens').fill('2');
  await page.getByTestId('query-input').fill(QUERY);
  expect(await expandIds(page)).toHaveLength(2);
  await expect(page.getByTestId('engine-error')).toHaveCount(0);

  await loadBase(page, ADAPTER_REPO);
  const error = page.getByTestId('engine-error');
  await expect(error).toHaveAttribute('data-code', 'bad_model', { timeout: 60_000 });
  await expect(error).toContainText(`${ADAPTER_REPO} is a LoRA adapter`);
  await expect(error).toContainText('under Adapters');
  expect(hub.requests.filter((r) => r.repo === ADAPTER_REPO && r.file !== '(api)')).toEqual([]);
});
