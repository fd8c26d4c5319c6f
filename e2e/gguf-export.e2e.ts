// GGUF exports from the page are the files `qmd export` writes for the same base and adapter, byte for byte.
// A tiny seeded Qwen3 from the test hub; an adapter stored from picked files; exported from its row, merged
// f32 and as a GGUF LoRA. Both ways out are covered: without the save dialog (the file is written to the
// browser's storage, then downloaded), and through showSaveFilePicker (stubbed to hand out a file in the
// origin private file system, whose bytes the page hashes). The merge and encoding run in the export
// worker: during an export the page's thread reads no byte of the model and its timers keep running.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect, type Page, type Worker } from '@playwright/test';
import { makeTinyModel, tinyModelConfig } from '../scripts/make-tiny-model.ts';
import { main as qmdExport } from '../src/cli/export.ts';
import { newAdapter, writePeftAdapter } from '../src/model/peft.ts';
import { loraTargets } from '../src/model/tensors.ts';
import { serveHub, type HubServer } from './support/hub.ts';

const REPO = 'test/tiny-qwen3';
// The name the page gives adapter files picked without a folder; `qmd export` names the GGUF after the folder.
const ADAPTER_NAME = 'LoRA r4 alpha 8';
let dir: string;
let hub: HubServer | undefined;
let adapterFiles: string[];
const expected: Record<'f32' | 'lora', Buffer> = { f32: Buffer.alloc(0), lora: Buffer.alloc(0) };

test.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qmd-gguf-export-'));
  const base = join(dir, 'base');
  await makeTinyModel(base, { seed: 7, hidden: 64, layers: 2 });
  hub = await serveHub({ [REPO]: base });
  const model = tinyModelConfig({ hidden: 64, layers: 2 });
  const adapterDir = join(dir, ADAPTER_NAME);
  await mkdir(adapterDir);
  const written = writePeftAdapter(newAdapter(model, { r: 4, alpha: 8, targets: [...loraTargets], seed: 3, bStd: 0.1 }), model);
  adapterFiles = [join(adapterDir, 'adapter_config.json'), join(adapterDir, 'adapter_model.safetensors')];
  await writeFile(adapterFiles[0]!, written.configJson);
  await writeFile(adapterFiles[1]!, written.safetensors);
  for (const [kind, args] of [['f32', ['--dtype', 'f32']], ['lora', ['--format', 'gguf-lora']]] as const) {
    const out = join(dir, `cli-${kind}.gguf`);
    expect(await qmdExport(['--model', base, '--adapter', adapterDir, ...args, '--out', out])).toBe(0);
    expected[kind] = await readFile(out);
  }
});

test.afterAll(async () => {
  await hub?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Loads the base, stores the picked adapter and opens its GGUF export form. */
async function openExport(page: Page): Promise<void> {
  await page.goto(`./?hub=${encodeURIComponent(hub!.url)}#/playground`);
  await page.getByTestId('base-repo').fill(REPO);
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('model-loaded')).toHaveText(REPO, { timeout: 60_000 });
  await page.getByTestId('adapter-save-files').setInputFiles(adapterFiles);
  await expect(page.getByTestId('stored-adapter-name')).toHaveValue(ADAPTER_NAME, { timeout: 60_000 });
  await page.getByTestId('stored-adapter-gguf').click();
  await expect(page.getByTestId('gguf-export')).toBeVisible();
}

/** What the page's own thread did while an export ran (the export worker's reads are not counted). */
interface MainThread {
  /** Bytes read from Blobs and Files (the picked or cached model is read this way). */
  blobBytes: number;
  /** Runs of a 0 ms interval: a thread busy merging would run it rarely. */
  turns: number;
  /** The longest gap between two runs, in ms (reported, not asserted: this machine is shared). */
  longestGapMs: number;
}

/** Starts counting the page's thread: Blob reads, and turns of a 0 ms interval. */
async function watchMainThread(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __main: MainThread; __last: number };
    w.__main = { blobBytes: 0, turns: 0, longestGapMs: 0 };
    const arrayBuffer = Blob.prototype.arrayBuffer;
    Blob.prototype.arrayBuffer = function (this: Blob) {
      w.__main.blobBytes += this.size;
      return arrayBuffer.call(this);
    };
    w.__last = performance.now();
    setInterval(() => {
      const now = performance.now();
      w.__main.turns++;
      w.__main.longestGapMs = Math.max(w.__main.longestGapMs, now - w.__last);
      w.__last = now;
    }, 0);
  });
}

/** The base (~43 MB here) was read, merged and encoded in the worker: the page read none of it and kept turning. */
async function expectOffMainThread(page: Page, what: string): Promise<void> {
  const main = await page.evaluate(() => (window as unknown as { __main: MainThread }).__main);
  console.log(`page thread during ${what}: ${JSON.stringify(main)}`);
  expect(main.blobBytes).toBe(0);
  expect(main.turns).toBeGreaterThan(10);
}

/** Export workers as they start and end (Playwright sees a page's dedicated workers). */
function trackExportWorkers(page: Page): { started: Worker[]; closed: string[] } {
  const seen = { started: [] as Worker[], closed: [] as string[] };
  page.on('worker', (worker) => {
    if (!/export\.worker/.test(worker.url())) return;
    seen.started.push(worker);
    worker.on('close', () => seen.closed.push(worker.url()));
  });
  return seen;
}

test('without a save dialog: merged f32 and GGUF LoRA download as the bytes qmd export writes, off the page thread', async ({ page }) => {
  test.setTimeout(240_000);
  await page.addInitScript(() => Object.defineProperty(window, 'showSaveFilePicker', { value: undefined }));
  const workers = trackExportWorkers(page);
  await openExport(page);
  await watchMainThread(page);
  for (const kind of ['f32', 'lora'] as const) {
    await page.getByTestId('gguf-export-kind').selectOption(kind);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('gguf-export-start').click()]);
    if (kind === 'f32') await expectOffMainThread(page, 'the f32 export to storage');
    expect(download.suggestedFilename()).toBe(`lora-r4-alpha-8-${kind}.gguf`);
    const bytes = await readFile((await download.path())!);
    expect(bytes.byteLength).toBe(expected[kind].byteLength);
    expect(bytes.equals(expected[kind])).toBe(true);
    await expect(page.getByTestId('gguf-export-done')).toContainText(`lora-r4-alpha-8-${kind}.gguf is in your downloads`);
    // The merged model comes with the line that runs it in QMD; QMD cannot load a LoRA on its own.
    await expect(page.getByTestId('gguf-export-usage')).toHaveCount(kind === 'f32' ? 1 : 0);
    if (kind === 'f32') await expect(page.getByTestId('gguf-export-usage')).toHaveText('QMD_GENERATE_MODEL=/path/to/lora-r4-alpha-8-f32.gguf qmd query "…"');
  }
  await expect(page.getByTestId('gguf-export-error')).toHaveCount(0);
  // One worker per export, terminated when it ends.
  expect(workers.started).toHaveLength(2);
  await expect.poll(() => workers.closed.length).toBe(2);
});

test('through the save dialog: the picked file holds the bytes qmd export writes, off the page thread', async ({ page }) => {
  test.setTimeout(120_000);
  // The dialog cannot be driven headless: hand out a file in the origin private file system instead.
  await page.addInitScript(() => {
    Object.defineProperty(window, 'showSaveFilePicker', {
      value: async ({ suggestedName }: { suggestedName: string }) => {
        const folder = await (await navigator.storage.getDirectory()).getDirectoryHandle('picked', { create: true });
        return folder.getFileHandle(suggestedName, { create: true });
      },
    });
  });
  const workers = trackExportWorkers(page);
  await openExport(page);
  await watchMainThread(page);
  await page.getByTestId('gguf-export-kind').selectOption('f32');
  await page.getByTestId('gguf-export-start').click();
  await expect(page.getByTestId('gguf-export-done')).toContainText('Saved lora-r4-alpha-8-f32.gguf.', { timeout: 60_000 });
  // The picked file's handle went to the worker, which opened its writable stream there.
  await expectOffMainThread(page, 'the f32 export to a picked file');
  expect(workers.started).toHaveLength(1);
  const picked = await page.evaluate(async () => {
    const folder = await (await navigator.storage.getDirectory()).getDirectoryHandle('picked');
    const file = await (await folder.getFileHandle('lora-r4-alpha-8-f32.gguf')).getFile();
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
    return { size: file.size, sha256: [...digest].map((b) => b.toString(16).padStart(2, '0')).join('') };
  });
  expect(picked).toEqual({ size: expected.f32.byteLength, sha256: createHash('sha256').update(expected.f32).digest('hex') });
});
