// Adapters ready for Python, and stored once under one name, on SwiftShader WebGPU with a tiny
// seeded Qwen3 from the test hub (?hub=). A LoRA trained in the page (1 step) is used and saved:
// the panel stops saying it is unsaved, the model panel offers no second save, and it downloads
// as one zip named after it whose adapter_config.json has every field PEFT writes and names the
// loaded base, and picked back into the page it generates what the trained adapter did (and
// onnxruntime-node with those files). Picked adapter files saved twice are
// stored once; a different adapter under a taken name, or a rename onto one, gets " (2)".
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect, type Page } from '@playwright/test';
import { unzipSync } from 'fflate';
import { makeTinyModel, tinyModelConfig } from '../scripts/make-tiny-model.ts';
import { bytesSource } from '../src/model/byte-source.ts';
import { newAdapter, parseAdapterConfig, peftTensorName, writePeftAdapter } from '../src/model/peft.ts';
import { SafetensorsFile } from '../src/model/safetensors.ts';
import type { EngineClient } from '../src/engine/client.ts';
import { generate } from '../src/engine/generate.ts';
import { loadAdapter, loadModelTokenizer, loadSession } from '../src/engine/model-dir.ts';
import { nodeRuntime } from '../src/engine/runtime-node.ts';
import { STOP_TOKENS } from '../src/engine/tokenizer.ts';
import { serveHub, type HubServer } from './support/hub.ts';
import { holdNothingOut, TRAIN_REPO as REPO, TRAIN_ROWS as ROWS } from './support/train.ts';

// PEFT's own adapter_config.json for a LoRA like ours (scripts/reference/peft-adapter-config.py).
const peftFields = Object.keys(
  (JSON.parse(readFileSync(new URL('../src/model/peft-adapter-config.fixture.json', import.meta.url), 'utf8')) as { adapter_config: object }).adapter_config,
).sort();

let dir: string;
let hub: HubServer | undefined;
let dataFile: string;
const picked: Record<'first' | 'other', { config: string; weights: string }> = { first: { config: '', weights: '' }, other: { config: '', weights: '' } };

test.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qmd-adapter-export-'));
  const base = join(dir, 'base');
  await makeTinyModel(base, { seed: 7, hidden: 64, layers: 2 });
  hub = await serveHub({ [REPO]: base });
  dataFile = join(dir, 'four.jsonl');
  await writeFile(dataFile, ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n');
  // Two adapters of the same shape and size for the same base, told apart only by their bytes.
  for (const [key, seed] of [['first', 1], ['other', 2]] as const) {
    const model = tinyModelConfig({ hidden: 64, layers: 2 });
    const written = writePeftAdapter(newAdapter(model, { r: 4, alpha: 8, targets: ['q_proj', 'v_proj'], seed, bStd: 0.1 }), model);
    const folder = join(dir, key);
    await mkdir(folder);
    picked[key] = { config: join(folder, 'adapter_config.json'), weights: join(folder, 'adapter_model.safetensors') };
    await writeFile(picked[key].config, written.configJson);
    await writeFile(picked[key].weights, written.safetensors);
  }
});

test.afterAll(async () => {
  await hub?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function loadBase(page: Page): Promise<void> {
  await page.getByTestId('base-repo').fill(REPO);
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('model-loaded')).toHaveText(REPO, { timeout: 60_000 });
}

async function downloadZip(page: Page, row: ReturnType<Page['getByTestId']>): Promise<{ name: string; entries: Record<string, Uint8Array> }> {
  const [download] = await Promise.all([page.waitForEvent('download'), row.getByTestId('stored-adapter-download').click()]);
  return { name: download.suggestedFilename(), entries: unzipSync(await readFile(await download.path())) };
}

test('a trained adapter is saved once, and downloads as one zip with every PEFT field and its base model', async ({ page }) => {
  test.setTimeout(480_000);
  await page.goto(`./?hub=${encodeURIComponent(hub!.url)}#/datasets`);
  await page.getByTestId('dataset-file').setInputFiles(dataFile);
  await expect(page.getByTestId('report-rows')).toHaveText('4');
  // Nothing here reads a validation loss: no row held out, no validation pass.
  await holdNothingOut(page);
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Playground' }).click();
  await loadBase(page);

  await nav.getByRole('link', { name: 'Train' }).click();
  await page.getByTestId('train-max-length').fill('48');
  await page.getByTestId('train-max-steps').fill('1');
  // One row, its completion scored: a 16-position loss head instead of the whole 4 × 48 batch
  // (SwiftShader's cost is the 151,936-row LM head per scored position); any step moves B off zero.
  await page.getByTestId('train-batch').fill('1');
  await page.getByTestId('train-accum').fill('1');
  await page.getByTestId('train-loss-completion').check();
  // No warmup: the one step runs at the full rate, so the adapter differs from the base.
  await page.getByLabel('warmup ratio', { exact: true }).fill('0');
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-done')).toBeVisible({ timeout: 300_000 });
  await expect(page.getByTestId('train-unsaved')).toBeVisible();
  await page.getByTestId('train-use').click();
  await expect(page.getByTestId('train-used')).toBeVisible({ timeout: 60_000 });
  await page.getByTestId('train-adapter-name').fill('My LoRA · v1');
  await page.getByTestId('train-save').click();
  await expect(page.getByTestId('train-saved')).toContainText('Saved as My LoRA · v1');
  // Saved: the panel no longer says otherwise.
  await expect(page.getByTestId('train-unsaved')).toHaveCount(0);

  await nav.getByRole('link', { name: 'Playground' }).click();
  const stored = page.getByTestId('stored-adapter');
  await expect(stored).toHaveCount(1);
  // The loaded trained adapter is known to be stored: no second "Save to browser".
  await expect(page.getByTestId('adapter-option')).toHaveCount(1);
  await expect(page.getByTestId('adapter-save')).toHaveCount(0);
  await expect(stored).toContainText(REPO);

  const zip = await downloadZip(page, stored);
  expect(zip.name).toBe('my-lora-v1.zip');
  expect(Object.keys(zip.entries).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  const config = JSON.parse(new TextDecoder().decode(zip.entries['adapter_config.json'])) as Record<string, unknown>;
  expect(Object.keys(config).sort()).toEqual(peftFields);
  expect(config).toMatchObject({ base_model_name_or_path: REPO, peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 16, lora_alpha: 32 });
  const lora = parseAdapterConfig(config);
  const weights = await SafetensorsFile.open(bytesSource(zip.entries['adapter_model.safetensors']!));
  expect(weights.names().length).toBe(2 * 2 * lora.targets.length);
  expect(weights.info(peftTensorName(1, lora.targets[0]!, 'B')).shape).toEqual([expect.any(Number), 16]);
  const b = await weights.read(peftTensorName(1, lora.targets[0]!, 'B'));
  expect(b.some((v) => v !== 0)).toBe(true);

  // The PEFT export back into the page: picked as files, it generates what the trained adapter
  // resident in the worker does, and what onnxruntime-node gives for the base plus those files.
  const trainedId = await page.evaluate(() => (globalThis as unknown as { qmdEngine: { adapters: { id: string }[] } }).qmdEngine.adapters[0]!.id);
  const exported = join(dir, 'exported');
  await mkdir(exported, { recursive: true });
  for (const [name, bytes] of Object.entries(zip.entries)) await writeFile(join(exported, name), bytes);
  await page.getByTestId('adapter-save-files').setInputFiles([join(exported, 'adapter_config.json'), join(exported, 'adapter_model.safetensors')]);
  await expect(page.getByTestId('adapter-option')).toHaveCount(2, { timeout: 60_000 });
  const reloadedId = await page.evaluate((trained) => (globalThis as unknown as { qmdEngine: { adapters: { id: string }[] } }).qmdEngine.adapters.find((a) => a.id !== trained)!.id, trainedId);
  const [fromTrained, fromExport] = [await greedyIds(page, trainedId), await greedyIds(page, reloadedId)];
  expect(fromExport).toEqual(fromTrained);
  const session = await loadSession(join(dir, 'base'), nodeRuntime, { graphs: 'lazy' });
  await session.setAdapter(await loadAdapter(exported, session.config));
  const reference = await generate(session, (await loadModelTokenizer(join(dir, 'base'))).promptIds(QUERY), { ...GREEDY, stopTokens: STOP_TOKENS });
  await session.release();
  expect(fromExport).toEqual(reference.ids);
});

const QUERY = 'nginx reverse proxy';
const GREEDY = { greedy: true, temperature: 1, topK: 0, topP: 1, seed: 0, maxNewTokens: 6 };

/** Greedy ids for QUERY from the worker with adapter `id`. */
function greedyIds(page: Page, adapter: string): Promise<number[]> {
  return page.evaluate(
    async ({ adapter, query, sampling }) => {
      const client = (globalThis as unknown as { qmdEngine: { client: EngineClient } }).qmdEngine.client;
      return (await client.call({ type: 'generate', query, adapter, sampling })).ids;
    },
    { adapter, query: QUERY, sampling: GREEDY },
  );
}

test('picked files saved twice are stored once; another adapter or a rename onto a taken name gets " (2)"', async ({ page }) => {
  test.setTimeout(180_000);
  await page.goto(`./?hub=${encodeURIComponent(hub!.url)}#/playground`);
  await loadBase(page);
  const names = page.getByTestId('stored-adapter-name');
  const pick = async (files: { config: string; weights: string }, count: number) => {
    await page.getByTestId('adapter-save-files').setInputFiles([files.config, files.weights]);
    await expect(page.getByTestId('adapter-option')).toHaveCount(count, { timeout: 60_000 });
  };
  await pick(picked.first, 1);
  await expect(names).toHaveCount(1);
  await expect(names).toHaveValue('LoRA r4 alpha 8');
  await pick(picked.first, 2);
  await expect(names).toHaveCount(1);
  await pick(picked.other, 3);
  await expect(names).toHaveCount(2);
  // Newest first.
  await expect(names.nth(0)).toHaveValue('LoRA r4 alpha 8 (2)');
  await expect(names.nth(1)).toHaveValue('LoRA r4 alpha 8');

  await names.nth(0).fill('nginx');
  await names.nth(0).press('Enter');
  await expect(names.nth(0)).toHaveValue('nginx');
  await names.nth(1).fill('NGINX');
  await names.nth(1).press('Enter');
  await expect(names.nth(1)).toHaveValue('NGINX (2)');
  await expect(page.getByTestId('stored-adapters-error')).toHaveCount(0);

  await page.reload();
  await expect(names).toHaveCount(2);
  await expect(names.nth(0)).toHaveValue('nginx');
  await expect(names.nth(1)).toHaveValue('NGINX (2)');
});
