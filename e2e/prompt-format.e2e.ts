// The page asks each model in its own prompt format (configs/models.json): a tiny seeded Qwen3
// served as tobil/qmd-query-expansion-1.7B must be asked "Expand this search query:\n{query}", as
// onnxruntime-node computes it, not in the v4 wording every model got before; the panel says which.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect } from '@playwright/test';
import { makeTinyModel } from '../scripts/make-tiny-model.ts';
import { generate } from '../src/engine/generate.ts';
import { loadCheckpoint, loadModelTokenizer } from '../src/engine/model-dir.ts';
import { nodeRuntime } from '../src/engine/runtime-node.ts';
import { Qwen3Session } from '../src/engine/session.ts';
import { STOP_TOKENS } from '../src/engine/tokenizer.ts';
import { promptFormat } from '../src/model/prompt.ts';
import { expandIds } from './support/engine.ts';
import { serveHub, type HubServer } from './support/hub.ts';

const REPO = 'tobil/qmd-query-expansion-1.7B';
const QUERY = 'configure nginx reverse proxy';
const NEW_TOKENS = 2;

let dir: string;
let hub: HubServer | undefined;
const reference: Record<string, number[]> = {};

test.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qmd-prompt-format-'));
  await makeTinyModel(dir, { seed: 7, hidden: 64, layers: 2 });
  hub = await serveHub({ [REPO]: dir });
  const { config, weights } = await loadCheckpoint(dir);
  const tokenizer = await loadModelTokenizer(dir);
  const session = await Qwen3Session.load(nodeRuntime, config, weights);
  const greedy = { greedy: true, temperature: 1, topK: 0, topP: 1, seed: 0, maxNewTokens: NEW_TOKENS, stopTokens: STOP_TOKENS };
  for (const id of ['qmd-v4', 'qmd-1.7b']) reference[id] = (await generate(session, tokenizer.promptIds(QUERY, promptFormat(id)), greedy)).ids;
  await session.release();
});

test.afterAll(async () => {
  await hub?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("a catalog model is asked in its own prompt format, and the panel says which", async ({ page }) => {
  test.setTimeout(300_000);
  // Else the test could not tell the two formats apart.
  expect(reference['qmd-1.7b']).not.toEqual(reference['qmd-v4']);
  await page.goto(`./?hub=${encodeURIComponent(hub!.url)}#/playground`);
  await page.getByTestId('base-repo').fill(REPO);
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('model-loaded')).toHaveText(REPO, { timeout: 120_000 });
  await expect(page.getByTestId('model-prompt-format')).toHaveAttribute('data-format', 'qmd-1.7b');
  await expect(page.getByTestId('model-prompt-format')).toHaveText('prompt qmd-1.7b (from configs/models.json)');
  await page.getByTestId('greedy').check();
  await page.getByTestId('max-tokens').fill(String(NEW_TOKENS));
  await page.getByTestId('query-input').fill(QUERY);
  expect(await expandIds(page)).toEqual(reference['qmd-1.7b']);

  // An explicit choice applies from the next load.
  await page.getByTestId('prompt-format').selectOption('qmd-v4');
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('model-prompt-format')).toHaveAttribute('data-format', 'qmd-v4', { timeout: 120_000 });
  await expect(page.getByTestId('model-prompt-format')).toContainText('chosen here');
  expect(await expandIds(page)).toEqual(reference['qmd-v4']);
});
