// The model cache and the engine's failures in the page, on SwiftShader WebGPU with a tiny seeded
// Qwen3 served like the hub (e2e/support/hub.ts counts every request): a reload loads from OPFS
// without downloading, the listing shows and deletes files, a download cut mid-file resumes with a
// Range request, a file sent short is never complete, a new revision on the hub is fetched again,
// the cache serves an offline load, a damaged copy is named and fetched again on request, a model
// over the GPU budget is refused before its weights download, and after a worker crash or a lost
// device "Reload model" brings the model back from the cache.
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect, type Page } from '@playwright/test';
import { makeTinyModel } from '../scripts/make-tiny-model.ts';
import { generate } from '../src/engine/generate.ts';
import { loadCheckpoint, loadModelTokenizer } from '../src/engine/model-dir.ts';
import { nodeRuntime } from '../src/engine/runtime-node.ts';
import { Qwen3Session } from '../src/engine/session.ts';
import { STOP_TOKENS } from '../src/engine/tokenizer.ts';
import type { EngineClient } from '../src/engine/client.ts';
import { serveHub, type HubServer } from './support/hub.ts';

const QUERY = 'postgres index tuning';
const REPO = 'test/tiny-qwen3';
const HUGE = 'test/huge-qwen3';
const FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];

let dir: string;
let hub: HubServer;
let reference: number[] = [];
/** The same model with other weights (seed 6): a new revision of model.safetensors, of the same size. */
let revised: { file: string; reference: number[] };
/** Bytes of all tensors in model.safetensors (the file less its header): what the estimate must say in f32. */
let weightBytes = 0;
let modelBytes = 0;

test.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qmd-engine-cache-'));
  const tiny = join(dir, 'tiny');
  await makeTinyModel(tiny, { seed: 5, hidden: 64, layers: 2 });
  // Qwen3-32B's shape: 65 GB of f32 weights, over any budget of four maxBufferSize.
  const huge = join(dir, 'huge');
  await mkdir(huge);
  const config = JSON.parse(await readFile(join(tiny, 'config.json'), 'utf8'));
  Object.assign(config, { hidden_size: 5120, intermediate_size: 25600, num_hidden_layers: 64, num_attention_heads: 64, num_key_value_heads: 8, head_dim: 128 });
  await writeFile(join(huge, 'config.json'), JSON.stringify(config));
  hub = await serveHub({ [REPO]: tiny, [HUGE]: huge });

  const file = await readFile(join(tiny, 'model.safetensors'));
  modelBytes = file.length;
  weightBytes = modelBytes - 8 - Number(file.readBigUInt64LE(0));
  reference = await greedyIds(tiny);
  const other = join(dir, 'revised');
  await makeTinyModel(other, { seed: 6, hidden: 64, layers: 2 });
  revised = { file: join(other, 'model.safetensors'), reference: await greedyIds(other) };
  expect(revised.reference).not.toEqual(reference);
});

async function greedyIds(folder: string): Promise<number[]> {
  const { config, weights } = await loadCheckpoint(folder);
  const session = await Qwen3Session.load(nodeRuntime, config, weights);
  const greedy = { greedy: true, temperature: 1, topK: 0, topP: 1, seed: 0, maxNewTokens: 2, stopTokens: STOP_TOKENS };
  const ids = (await generate(session, (await loadModelTokenizer(folder)).promptIds(QUERY), greedy)).ids;
  await session.release();
  return ids;
}

test.afterAll(async () => {
  await hub?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const weightRequests = () => hub.requests.filter((r) => r.repo === REPO && r.file === 'model.safetensors');

async function load(page: Page, repo = REPO): Promise<void> {
  await page.getByTestId('base-repo').fill(repo);
  await page.getByTestId('load-model').click();
}

async function loaded(page: Page): Promise<void> {
  await expect(page.getByTestId('model-loaded')).toHaveText(REPO, { timeout: 120_000 });
}

/** Greedy ids for QUERY straight from the worker (two new tokens). */
function generateIds(page: Page): Promise<number[]> {
  return page.evaluate(async (query) => {
    const client = (globalThis as unknown as { qmdEngine: { client: EngineClient } }).qmdEngine.client;
    const sampling = { greedy: true, temperature: 1, topK: 0, topP: 1, seed: 0, maxNewTokens: 2 };
    return (await client.call({ type: 'generate', query, adapter: null, sampling })).ids;
  }, QUERY);
}

async function openCache(page: Page): Promise<void> {
  const cache = page.getByTestId('model-cache');
  if (!(await cache.getAttribute('open'))) await cache.locator('summary').click();
}

test.beforeEach(async ({ page }) => {
  hub.requests.length = 0;
  await page.goto(`./?hub=${encodeURIComponent(hub.url)}#/playground`);
});

test('a reload loads from the cache without downloading; the listing shows the files; clear empties it', async ({ page }) => {
  test.setTimeout(240_000);
  const errors: string[] = [];
  // Failed hub requests (the shard-index probe's 404 among them); the page's own favicon.ico 404 is not this test's.
  page.on('console', (m) => m.type() === 'error' && m.location().url.startsWith(hub.url) && errors.push(`${m.text()} ${m.location().url}`));
  await load(page);
  await loaded(page);
  await expect(page.getByTestId('load-estimate')).toHaveAttribute('data-weight-bytes', String(weightBytes));
  await expect(page.getByTestId('memory-report')).toHaveAttribute('data-device-tensors', /^[1-9]\d*$/);
  expect(weightRequests()).toHaveLength(1);
  // The file list came from the API: no probe of the shard index, so no 404 in the console.
  expect(hub.requests.filter((r) => r.file === '(api)')).toHaveLength(1);
  expect(hub.requests.filter((r) => r.file === 'model.safetensors.index.json')).toEqual([]);

  await openCache(page);
  const entries = page.getByTestId('cache-entry');
  await expect(entries).toHaveCount(FILES.length);
  const listed = await entries.evaluateAll((rows) => rows.map((r) => `${r.getAttribute('data-file')} ${r.getAttribute('data-complete')}`));
  expect(listed.sort()).toEqual(FILES.map((f) => `${f} true`));
  await expect(entries.first()).toContainText(REPO);

  await page.reload();
  hub.requests.length = 0;
  await load(page);
  await loaded(page);
  expect(hub.requests.map((r) => r.file)).toEqual(['(api)']);
  expect(await generateIds(page)).toEqual(reference);
  expect(errors).toEqual([]);

  await openCache(page);
  await entries.nth(0).getByTestId('cache-delete').click();
  await expect(entries).toHaveCount(FILES.length - 1);
  await page.getByTestId('cache-clear').click();
  await expect(page.getByTestId('cache-empty')).toBeVisible();
  await expect(page.getByTestId('cache-count')).toHaveText('0');
});

test('a download cut mid-file is kept as a partial and resumes with a Range request', async ({ page }) => {
  test.setTimeout(240_000);
  hub.dropNext('model.safetensors', Math.floor(modelBytes / 2));
  await load(page);
  await expect(page.getByTestId('engine-error')).toHaveAttribute('data-code', 'download_failed', { timeout: 60_000 });
  await openCache(page);
  const partial = page.locator('[data-testid="cache-entry"][data-file="model.safetensors"]');
  await expect(partial).toHaveAttribute('data-complete', 'false');
  await expect(partial).toContainText('partial');

  await load(page);
  await loaded(page);
  const [first, resumed] = weightRequests();
  expect(first?.range).toBeNull();
  const start = Number(/^bytes=(\d+)-$/.exec(resumed?.range ?? '')?.[1]);
  expect(start).toBeGreaterThan(0);
  expect(start).toBeLessThanOrEqual(modelBytes / 2);
  await expect(partial).toHaveAttribute('data-complete', 'true');
  expect(await generateIds(page)).toEqual(reference); // the stitched file holds the right bytes
});

test('a model over the GPU budget is refused before its weights or tokenizer download', async ({ page }) => {
  await load(page, HUGE);
  const error = page.getByTestId('engine-error');
  await expect(error).toHaveAttribute('data-code', 'too_large', { timeout: 60_000 });
  await expect(error).toContainText(`${HUGE} cannot run on this GPU`);
  await expect(page.getByTestId('load-estimate')).toBeVisible();
  expect(hub.requests.filter((r) => r.repo === HUGE).map((r) => r.file)).toEqual(['(api)', 'config.json']);
});

test('a file sent short is never complete and resumes; a new revision on the hub is fetched again', async ({ page }) => {
  test.setTimeout(300_000);
  const tinyWeights = join(dir, 'tiny', 'model.safetensors');
  const original = join(dir, 'original.safetensors');
  await copyFile(tinyWeights, original);
  try {
    // A proxy (or a file caught mid-write) answers with half the file and a Content-Length to match.
    const half = Math.floor(modelBytes / 2);
    hub.truncateNext('model.safetensors', half);
    await load(page);
    const error = page.getByTestId('engine-error');
    await expect(error).toHaveAttribute('data-code', 'download_failed', { timeout: 60_000 });
    await expect(error).toContainText(`the server sent ${half} bytes but the hub lists ${modelBytes}`);
    await openCache(page);
    const weights = page.locator('[data-testid="cache-entry"][data-file="model.safetensors"]');
    await expect(weights).toHaveAttribute('data-complete', 'false');

    await load(page);
    await loaded(page);
    expect(weightRequests().map((r) => r.range)).toEqual([null, `bytes=${half}-`]);
    await expect(weights).toHaveAttribute('data-complete', 'true');
    expect(await generateIds(page)).toEqual(reference);

    // A new revision pushed to main: same size, other bytes. The next load fetches it whole.
    await copyFile(revised.file, tinyWeights);
    hub.requests.length = 0;
    await load(page);
    await loaded(page);
    expect(hub.requests.map((r) => `${r.file} ${r.range}`)).toEqual(['(api) null', 'model.safetensors null']);
    expect(await generateIds(page)).toEqual(revised.reference);
  } finally {
    await copyFile(original, tinyWeights);
  }
});

test('offline the cache serves the load; a damaged copy is named and "Delete it and download again" loads it', async ({ page }) => {
  test.setTimeout(300_000);
  await load(page);
  await loaded(page);
  hub.offline = true;
  hub.requests.length = 0;
  try {
    await page.reload();
    await load(page);
    await loaded(page);
    expect(hub.requests).toEqual([]); // every file from OPFS, the hub not even reachable
    // Damage the stored weights in place, as a failing disk would: same size, so no listing could tell.
    await page.evaluate(async (repo) => {
      const root = await (await navigator.storage.getDirectory()).getDirectoryHandle('hub');
      const folder = await root.getDirectoryHandle(`${encodeURIComponent(repo)}@main`);
      const writable = await (await folder.getFileHandle('model.safetensors')).createWritable({ keepExistingData: true });
      await writable.write({ type: 'write', position: 8, data: new TextEncoder().encode('{{{{{{{{') });
      await writable.close();
    }, REPO);
    await load(page);
    const error = page.getByTestId('engine-error');
    await expect(error).toHaveAttribute('data-code', 'corrupt_file', { timeout: 60_000 });
    await expect(error).toContainText(`${REPO}/model.safetensors: the copy kept in this browser is damaged`);
    await expect(error).toContainText('header is not valid JSON');
  } finally {
    hub.offline = false;
  }
  hub.requests.length = 0;
  await page.getByTestId('refetch-damaged').click();
  await loaded(page);
  expect(weightRequests().map((r) => r.range)).toEqual([null]);
  await expect(page.getByTestId('engine-error')).toHaveCount(0);
  expect(await generateIds(page)).toEqual(reference);
});

test('after a worker crash or a lost GPU the page says so and Reload model loads again from the cache', async ({ page }) => {
  test.setTimeout(300_000);
  await load(page);
  await loaded(page);
  for (const [action, code] of [['crash', 'crashed'], ['lose-device', 'device_lost']] as const) {
    await page.evaluate((a) => {
      const engine = (globalThis as unknown as { qmdEngine: { client: EngineClient } }).qmdEngine;
      void engine.client.call({ type: 'debug', action: a }).catch(() => {});
    }, action);
    const failure = page.getByTestId('engine-failure');
    await expect(failure).toHaveAttribute('data-code', code, { timeout: 60_000 });
    await expect(failure).toContainText(code === 'crashed' ? 'crashed' : 'GPU device was lost');
    await expect(page.getByTestId('model-loaded')).toHaveCount(0);
    await openCache(page);
    await expect(page.getByTestId('cache-entry')).toHaveCount(FILES.length);
    await page.getByTestId('reload-model').click();
    await loaded(page);
    await expect(failure).toHaveCount(0);
  }
  expect(weightRequests()).toHaveLength(1);
  expect(await generateIds(page)).toEqual(reference);
});
