// GGUF exports from the page are the files `qmd export` writes for the same base and adapter, byte for byte.
// A tiny seeded Qwen3 from the test hub; an adapter stored from picked files; exported from its row, merged
// f32 and as a GGUF LoRA. Both ways out are covered: without the save dialog (the file is written to the
// browser's storage, then downloaded), and through showSaveFilePicker (stubbed to hand out a file in the
// origin private file system, whose bytes the page hashes).
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect, type Page } from '@playwright/test';
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

test('without a save dialog: merged f32 and GGUF LoRA download as the bytes qmd export writes', async ({ page }) => {
  test.setTimeout(120_000);
  await page.addInitScript(() => Object.defineProperty(window, 'showSaveFilePicker', { value: undefined }));
  await openExport(page);
  for (const kind of ['f32', 'lora'] as const) {
    await page.getByTestId('gguf-export-kind').selectOption(kind);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('gguf-export-start').click()]);
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
});

test('through the save dialog: the picked file holds the bytes qmd export writes', async ({ page }) => {
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
  await openExport(page);
  await page.getByTestId('gguf-export-kind').selectOption('f32');
  await page.getByTestId('gguf-export-start').click();
  await expect(page.getByTestId('gguf-export-done')).toContainText('Saved lora-r4-alpha-8-f32.gguf.', { timeout: 60_000 });
  const picked = await page.evaluate(async () => {
    const folder = await (await navigator.storage.getDirectory()).getDirectoryHandle('picked');
    const file = await (await folder.getFileHandle('lora-r4-alpha-8-f32.gguf')).getFile();
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
    return { size: file.size, sha256: [...digest].map((b) => b.toString(16).padStart(2, '0')).join('') };
  });
  expect(picked).toEqual({ size: expected.f32.byteLength, sha256: createHash('sha256').update(expected.f32).digest('hex') });
});
