// The browser engine end to end on SwiftShader WebGPU: a tiny seeded Qwen3 and a PEFT adapter
// served with the hub's URL layout, loaded through the hub code path (?hub=), generated greedily
// in the worker and checked token for token against onnxruntime-node running the same model.
// SwiftShader is a fallback adapter, so the page's LM head runs by rows (forward.ts HeadProduct)
// where the reference's is a MatMul; the placement check holds its Einsum to the GPU.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect } from '@playwright/test';
import { makeTinyModel } from '../scripts/make-tiny-model.ts';
import { generate } from '../src/engine/generate.ts';
import { loadAdapter, loadCheckpoint, loadModelTokenizer } from '../src/engine/model-dir.ts';
import { nodeRuntime } from '../src/engine/runtime-node.ts';
import { STOP_TOKENS } from '../src/engine/tokenizer.ts';
import { Qwen3Session } from '../src/engine/session.ts';
import { stripThink } from '../src/engine/sampling.ts';
import { expandIds } from './support/engine.ts';
import { serveHub, type HubServer } from './support/hub.ts';

const QUERY = 'configure nginx reverse proxy';
// SwiftShader is slow (on 2 cores, most of this test's time): 4 tokens a run, 3 of them decoded on
// the KV cache, already tell base from adapter (checked in beforeAll).
const NEW_TOKENS = 4;
const SHOTS = '/tmp/shots-engine';
const BASE_REPO = 'test/tiny-qwen3';
const ADAPTER_REPO = 'test/tiny-lora';

let dir: string;
let hub: HubServer | undefined;
let hubUrl: string;
const reference = { base: [] as number[], adapter: [] as number[], baseText: '' };

test.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qmd-engine-'));
  const base = join(dir, 'base');
  const adapterDir = join(dir, 'adapter');
  await makeTinyModel(base, { seed: 7, hidden: 64, layers: 2, adapter: { dir: adapterDir, rank: 4 } });
  hub = await serveHub({ [BASE_REPO]: base, [ADAPTER_REPO]: adapterDir });
  hubUrl = hub.url;

  // The reference: onnxruntime-node on CPU, same graph builder, same generation loop.
  const { config, weights } = await loadCheckpoint(base);
  const tokenizer = await loadModelTokenizer(base);
  const session = await Qwen3Session.load(nodeRuntime, config, weights);
  expect(session.fused).toBe(true); // the fused graphs on both sides: GroupQueryAttention etc. on WebGPU are what this checks
  const greedy = { greedy: true, temperature: 1, topK: 0, topP: 1, seed: 0, maxNewTokens: NEW_TOKENS, stopTokens: STOP_TOKENS };
  const prompt = tokenizer.promptIds(QUERY);
  reference.base = (await generate(session, prompt, greedy)).ids;
  reference.baseText = stripThink(tokenizer.decode(reference.base)).trim();
  await session.setAdapter(await loadAdapter(adapterDir, config));
  reference.adapter = (await generate(session, prompt, greedy)).ids;
  await session.release();
  await mkdir(SHOTS, { recursive: true });
});

test.afterAll(async () => {
  await hub?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});


test('a tiny Qwen3 from the hub path generates the same tokens as onnxruntime-node; adapters switch per request', async ({ page }) => {
  test.setTimeout(540_000);
  expect(reference.adapter).not.toEqual(reference.base); // the adapter must change the output for the test to mean anything
  const errors: string[] = [];
  // The one expected failed request: probing model.safetensors.index.json, which a single-file model lacks.
  const probe = /Failed to load resource: the server responded with a status of 404/;
  page.on('console', (m) => m.type() === 'error' && !probe.test(m.text()) && errors.push(m.text()));
  page.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith('http://127.0.0.1') && !url.startsWith('data:') && !url.startsWith('blob:')) errors.push(`external request ${url}`);
  });

  await page.goto(`./?hub=${encodeURIComponent(hubUrl)}#/playground`);
  await expect(page.getByTestId('hub-base')).toContainText(hubUrl);
  await page.getByTestId('base-repo').fill(BASE_REPO);
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('model-loaded')).toHaveText(BASE_REPO, { timeout: 120_000 });
  await expect(page.getByTestId('model-head-rows')).toHaveText('CPU-rendered WebGPU');
  await page.getByTestId('greedy').check();
  await page.getByTestId('max-tokens').fill(String(NEW_TOKENS));
  await page.getByTestId('query-input').fill(QUERY);

  expect(await expandIds(page)).toEqual(reference.base);
  await expect(page.getByTestId('expand-column').getByTestId('output-text')).toHaveText(reference.baseText);
  await expect(page.getByTestId('generation')).toContainText(/\d+(\.\d)? tokens\/s/);
  await page.screenshot({ path: `${SHOTS}/base.png`, fullPage: true });

  await page.getByTestId('adapter-repo').fill(ADAPTER_REPO);
  await page.getByTestId('load-adapter').click();
  await expect(page.getByTestId('adapter-option')).toHaveCount(1, { timeout: 60_000 });
  await expect(page.getByTestId('adapter-option')).toBeChecked();
  expect(await expandIds(page)).toEqual(reference.adapter);

  // Compare runs the base first, right after the adapter ran: switching back must not reload anything.
  await page.getByTestId('adapter-base').check();
  await expect(page.getByTestId('expand')).toContainText('base model');
  await page.getByTestId('compare').click();
  const columns = page.getByTestId('compare-column');
  await expect(columns).toHaveCount(2);
  await expect(columns.nth(1)).toHaveAttribute('data-done', 'true', { timeout: 180_000 });
  await expect(columns.nth(0)).toHaveAttribute('data-token-ids', reference.base.join(','));
  await expect(columns.nth(1)).toHaveAttribute('data-token-ids', reference.adapter.join(','));
  await page.screenshot({ path: `${SHOTS}/compare.png`, fullPage: true });

  await page.getByTestId('check-placement').click();
  const placement = page.getByTestId('placement');
  await expect(placement).toBeVisible({ timeout: 60_000 });
  await page.screenshot({ path: `${SHOTS}/placement.png`, fullPage: true });
  await expect(placement, `CPU-placed nodes in the decoder: ${await placement.textContent()}`).toHaveAttribute('data-cpu-nodes', '0');
  await expect(page.getByTestId('engine-error')).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('a repo missing from the hub fails with a download error; the engine then loads a picked local folder', async ({ page }) => {
  await page.goto(`./?hub=${encodeURIComponent(hubUrl)}#/playground`);
  await page.getByTestId('base-repo').fill('test/missing');
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('engine-error')).toHaveAttribute('data-code', 'download_failed', { timeout: 60_000 });
  await expect(page.getByTestId('engine-error')).toContainText('config.json');
  await page.getByTestId('model-files').setInputFiles(join(dir, 'base'));
  await expect(page.getByTestId('model-loaded')).toHaveText('base', { timeout: 120_000 });
  await expect(page.getByTestId('engine-error')).toHaveCount(0);
});
