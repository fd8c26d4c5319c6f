// Adapters kept in the browser, on SwiftShader WebGPU: a tiny Qwen3 from the test hub (?hub=), its
// PEFT adapter picked from disk and stored in IndexedDB, then after a page reload loaded from the
// stored list and generating the same tokens; downloaded back byte for byte (one zip); renamed; deleted. An
// adapter made for another model is refused with the tensor named, and nothing is stored.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect, type Page } from '@playwright/test';
import { unzipSync } from 'fflate';
import { makeTinyModel, tinyModelConfig } from '../scripts/make-tiny-model.ts';
import { newAdapter, writePeftAdapter } from '../src/model/peft.ts';
import { expandIds } from './support/engine.ts';
import { serveHub, type HubServer } from './support/hub.ts';

const QUERY = 'configure nginx reverse proxy';
// SwiftShader (a CPU rasterizer) is slow: 4 tokens a run.
const NEW_TOKENS = 4;
const BASE_REPO = 'test/tiny-qwen3';
const SHOTS = '/tmp/shots-adapters';

let dir: string;
let hub: HubServer | undefined;
let adapterFiles: { config: string; weights: string };
let foreignFiles: { config: string; weights: string };

const filesIn = (folder: string) => ({ config: join(folder, 'adapter_config.json'), weights: join(folder, 'adapter_model.safetensors') });

test.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qmd-adapters-'));
  const base = join(dir, 'base');
  await makeTinyModel(base, { seed: 7, hidden: 64, layers: 2, adapter: { dir: join(dir, 'adapter'), rank: 4 } });
  adapterFiles = filesIn(join(dir, 'adapter'));
  // Made for a model with a wider MLP (intermediate 96, not 128): gate/up/down do not fit the base.
  const foreign = newAdapter(tinyModelConfig({ hidden: 64, layers: 2, intermediate: 96 }), {
    r: 4, alpha: 8, targets: ['q_proj', 'gate_proj', 'down_proj'], seed: 5, bStd: 0.1,
  });
  const written = writePeftAdapter(foreign, tinyModelConfig({ hidden: 64, layers: 2, intermediate: 96 }));
  await mkdir(join(dir, 'foreign'));
  foreignFiles = filesIn(join(dir, 'foreign'));
  await writeFile(foreignFiles.config, written.configJson);
  await writeFile(foreignFiles.weights, written.safetensors);
  hub = await serveHub({ [BASE_REPO]: base });
  await mkdir(SHOTS, { recursive: true });
});

test.afterAll(async () => {
  await hub?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Opens the playground and loads the tiny base with greedy sampling of NEW_TOKENS. */
async function loadBase(page: Page, reload = false): Promise<void> {
  if (reload) await page.reload();
  else await page.goto(`./?hub=${encodeURIComponent(hub!.url)}#/playground`);
  await page.getByTestId('base-repo').fill(BASE_REPO);
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('model-loaded')).toHaveText(BASE_REPO, { timeout: 120_000 });
  await page.getByTestId('greedy').check();
  await page.getByTestId('max-tokens').fill(String(NEW_TOKENS));
  await page.getByTestId('query-input').fill(QUERY);
}

async function downloaded(page: Page, testid: string): Promise<{ name: string; bytes: Buffer }> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testid).click()]);
  return { name: download.suggestedFilename(), bytes: await readFile(await download.path()) };
}

test('an adapter stored in the browser loads after a reload, generates as before, downloads byte for byte, and is deleted', async ({ page }) => {
  test.setTimeout(600_000);
  await loadBase(page);
  await expect(page.getByTestId('stored-adapters-empty')).toBeVisible();

  await page.getByTestId('adapter-save-files').setInputFiles([adapterFiles.config, adapterFiles.weights]);
  const stored = page.getByTestId('stored-adapter');
  await expect(stored).toHaveCount(1, { timeout: 60_000 });
  await expect(stored).toContainText('q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj');
  await expect(stored).toContainText(join(dir, 'base')); // adapter_config.json's base_model_name_or_path
  await expect(page.getByTestId('adapter-option')).toBeChecked();
  const adapterIds = await expandIds(page);
  await page.getByTestId('adapter-base').check();
  const baseIds = await expandIds(page);
  expect(adapterIds).toHaveLength(NEW_TOKENS);
  expect(adapterIds).not.toEqual(baseIds);

  await stored.getByTestId('stored-adapter-name').fill('nginx lora');
  await stored.getByTestId('stored-adapter-name').press('Enter');
  // The rename is stored before the reload (a busy machine could otherwise reload mid-transaction).
  await expect.poll(() => storedNames(page), { timeout: 30_000 }).toEqual(['nginx lora']);

  await loadBase(page, true);
  await expect(stored).toHaveCount(1);
  await expect(stored.getByTestId('stored-adapter-name')).toHaveValue('nginx lora');
  await stored.getByTestId('stored-adapter-load').click();
  await expect(page.getByTestId('adapter-option')).toHaveCount(1, { timeout: 60_000 });
  await expect(page.getByTestId('adapter-option')).toBeChecked();
  await expect(page.getByTestId('adapters')).toContainText('nginx lora');
  expect(await expandIds(page)).toEqual(adapterIds);
  await page.screenshot({ path: `${SHOTS}/stored.png`, fullPage: true });

  // One zip named after the adapter; this config names its base, so both files are as picked.
  const zip = await downloaded(page, 'stored-adapter-download');
  expect(zip.name).toBe('nginx-lora.zip');
  const entries = unzipSync(zip.bytes);
  expect(Object.keys(entries).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  expect(Buffer.from(entries['adapter_config.json']!).equals(await readFile(adapterFiles.config))).toBe(true);
  expect(Buffer.from(entries['adapter_model.safetensors']!).equals(await readFile(adapterFiles.weights))).toBe(true);

  await stored.getByTestId('stored-adapter-delete').click();
  await page.getByTestId('stored-adapter-delete-yes').click();
  await expect(stored).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId('stored-adapters-empty')).toBeVisible();
  await expect(page.getByTestId('engine-error')).toHaveCount(0);
  await expect(page.getByTestId('stored-adapters-error')).toHaveCount(0);
});

test('an adapter that does not fit the base is refused naming the tensor, and nothing is stored', async ({ page }) => {
  test.setTimeout(300_000);
  await loadBase(page);
  await page.getByTestId('adapter-save-files').setInputFiles([foreignFiles.config, foreignFiles.weights]);
  const error = page.getByTestId('engine-error');
  await expect(error).toHaveAttribute('data-code', 'unsupported_adapter', { timeout: 60_000 });
  await expect(error).toContainText(/tensor base_model\.model\.model\.layers\.\d\.mlp\.(gate|down)_proj\.lora_[AB]\.weight has shape \[\d+, \d+\], expected \[\d+, \d+\]/);
  await expect(page.getByTestId('adapter-option')).toHaveCount(0);
  await expect(page.getByTestId('stored-adapter')).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId('stored-adapters-empty')).toBeVisible();
});

/** The names in the page's IndexedDB adapters store, read straight from the database. */
function storedNames(page: Page): Promise<string[]> {
  return page.evaluate(
    () =>
      new Promise<string[]>((resolve, reject) => {
        const open = indexedDB.open('qmd-lab');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const all = open.result.transaction('adapters').objectStore('adapters').getAll();
          all.onsuccess = () => {
            resolve((all.result as { name: string }[]).map((a) => a.name));
            open.result.close();
          };
          all.onerror = () => reject(all.error);
        };
      }),
  );
}
