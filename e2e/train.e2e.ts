// LoRA training in the page on SwiftShader WebGPU: a tiny seeded Qwen3 served through the hub
// code path (?hub=), a 4-row dataset imported in the page (3 train rows, 1 held out), 2 steps at
// max length 48. The loss chart gets a point per step, the loss of step 1 matches the CLI's
// trainer on onnxruntime-node (same model, rows, split and seed), the pace readout gives the time
// left during the validation pass, and the saved adapter shows up in the Playground's stored adapters.
// One row a step (batch 1, no accumulation), on the page and in the reference alike.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect } from '@playwright/test';
import { makeTinyModel } from '../scripts/make-tiny-model.ts';
import { parseRow } from '../src/data/rows.ts';
import { splitDataset } from '../src/data/split.ts';
import { newAdapter } from '../src/model/peft.ts';
import { loadCheckpoint, loadModelTokenizer } from '../src/engine/model-dir.ts';
import { nodeRuntime } from '../src/engine/runtime-node.ts';
import { Qwen3Session } from '../src/engine/session.ts';
import { runSft } from '../src/engine/sft.ts';
import { parseTrainConfig } from '../src/engine/train-config.ts';
import { LoraTrainer, sessionWeights } from '../src/engine/trainer.ts';
import { serveHub, type HubServer } from './support/hub.ts';

const ROWS = [
  { input: 'nginx reverse proxy', output: 'lex: nginx proxy_pass\nvec: configure nginx as a reverse proxy' },
  { input: 'git rebase onto main', output: 'lex: git rebase --onto\nvec: rebase a branch onto main' },
  { input: 'sqlite wal mode', output: 'lex: PRAGMA journal_mode=WAL\nvec: enable write-ahead logging' },
  { input: 'rust borrow checker', output: 'lex: borrow checker\nvec: why rust rejects two mutable borrows' },
];
const REPO = 'test/tiny-qwen3';
const STEPS = 2;
const MAX_LENGTH = 48;
const ADAPTER = 'tiny trained';

let dir: string;
let hub: HubServer | undefined;
let dataFile: string;
/** Step losses of the CLI's flow on onnxruntime-node. */
let reference: number[] = [];

test.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qmd-train-'));
  const base = join(dir, 'base');
  await makeTinyModel(base, { seed: 7, hidden: 64, layers: 2 });
  hub = await serveHub({ [REPO]: base });
  const lines = ROWS.map((r) => JSON.stringify(r));
  dataFile = join(dir, 'four.jsonl');
  await writeFile(dataFile, lines.join('\n') + '\n');

  const sft = parseTrainConfig(readFileSync(new URL('../configs/sft.yaml', import.meta.url), 'utf8'), 'configs/sft.yaml');
  // Completion-only keeps SwiftShader's loss head to the completion tokens (the preset's whole-sequence loss is unit-tested),
  // and one row a step to a 16- or 32-position loss head (the preset's 3-row batch made it 64).
  const config = { ...sft, training: { ...sft.training, maxLength: MAX_LENGTH, lossOn: 'completion' as const, batchSize: 1, gradAccum: 1 } };
  const { config: model, weights } = await loadCheckpoint(base);
  const tokenizer = await loadModelTokenizer(base);
  const rows = lines.map((line) => parseRow(line)).map((r) => (r.ok ? r : null)!);
  const { train } = splitDataset(rows.length, { ratio: config.eval.split, seed: config.eval.seed });
  const session = await Qwen3Session.load(nodeRuntime, model, weights);
  const adapter = newAdapter(model, { r: config.lora.r, alpha: config.lora.alpha, targets: config.lora.targets, useRslora: config.lora.rslora, dropout: config.lora.dropout, seed: config.training.seed });
  const trainer = await LoraTrainer.create({ runtime: nodeRuntime, model, ...sessionWeights(session), start: { adapter }, optimizer: config.optimizer, dropout: config.lora.dropout, seed: config.training.seed });
  const examples = train.map((i) => tokenizer.example(rows[i]!.query, rows[i]!.completion));
  await runSft(trainer, examples, config, { maxSteps: STEPS, onStep: (p) => reference.push(p.loss) });
  await trainer.release();
  await session.release();
});

test.afterAll(async () => {
  await hub?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('a LoRA run in the page: 2 steps charted, step 1 loss as onnxruntime-node computes it, the adapter saved and listed', async ({ page }) => {
  test.setTimeout(300_000);
  const errors: string[] = [];
  // ORT logs its placement warning (shape ops kept on the CPU, by design) at console.error level.
  const expected = /Failed to load resource: the server responded with a status of 404|\[W:onnxruntime:, session_state\.cc/;
  page.on('console', (m) => m.type() === 'error' && !expected.test(m.text()) && errors.push(m.text()));

  await page.goto(`./?hub=${encodeURIComponent(hub!.url)}#/datasets`);
  await page.getByTestId('dataset-file').setInputFiles(dataFile);
  await expect(page.getByTestId('import-report')).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('report-rows')).toHaveText('4');

  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Train' }).click();
  await expect(page.getByTestId('train-model-missing')).toBeVisible();
  await expect(page.getByTestId('train-start')).toBeDisabled();
  await expect(page.getByTestId('train-split')).toHaveText(/^3 train rows, 1 held out/);

  await nav.getByRole('link', { name: 'Playground' }).click();
  await page.getByTestId('base-repo').fill(REPO);
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('model-loaded')).toHaveText(REPO, { timeout: 60_000 });
  await nav.getByRole('link', { name: 'Train' }).click();
  await expect(page.getByTestId('train-model')).toHaveText(REPO);

  // The worker estimates the run's GPU memory from the graph it would build, and refuses what cannot fit.
  await expect(page.getByTestId('train-memory')).toContainText('GPU memory for this run, estimated', { timeout: 30_000 });
  await page.getByTestId('train-max-length').fill('32768');
  await expect(page.getByTestId('train-memory-refusal')).toContainText('lower training.max_length (now 32768)', { timeout: 30_000 });
  await expect(page.getByTestId('train-start')).toBeDisabled();
  await page.getByTestId('train-max-length').fill(String(MAX_LENGTH));
  await expect(page.getByTestId('train-memory-refusal')).toHaveCount(0, { timeout: 30_000 });
  await page.getByTestId('train-max-steps').fill(String(STEPS));
  await page.getByTestId('train-batch').fill('1');
  await page.getByTestId('train-accum').fill('1');
  await page.getByTestId('train-loss-completion').check();
  await page.getByTestId('train-start').click();
  // While the validation pass runs after the last step, the pace of step 2 (step 1 built the graphs) gives the time left.
  await expect(page.getByTestId('train-phase')).toHaveText(/^Computing the validation loss/, { timeout: 240_000 });
  await expect(page.getByTestId('train-pace-steps')).toHaveText(`${STEPS} of ${STEPS} steps`);
  await expect(page.getByTestId('train-pace-step-seconds')).toHaveText(/^\d.* s\/step$/);
  await expect(page.getByTestId('train-pace-tokens')).toHaveText(/^\d+\.\d scored tokens\/s$/);
  await expect(page.getByTestId('train-eta')).toHaveText(/^about \d.* left$/);
  await expect(page.getByTestId('train-done')).toBeVisible({ timeout: 240_000 });
  const points = page.getByTestId('loss-point');
  await expect(points).toHaveCount(STEPS);
  await expect(page.getByTestId('train-step-row')).toHaveCount(STEPS);
  await expect(page.getByTestId('train-validation-loss')).toHaveText(/^\d+\.\d{4}$/);
  const step1 = Number(await points.first().getAttribute('data-loss'));
  expect(Math.abs(step1 - reference[0]!) / reference[0]!).toBeLessThan(1e-3);
  await page.screenshot({ path: '/tmp/shots-train/done.png', fullPage: true });

  await page.getByTestId('train-adapter-name').fill(ADAPTER);
  await page.getByTestId('train-save').click();
  await expect(page.getByTestId('train-saved')).toContainText(ADAPTER);
  await nav.getByRole('link', { name: 'Playground' }).click();
  await expect(page.getByTestId('stored-adapter-name')).toHaveValue(ADAPTER);
  expect(errors).toEqual([]);
});
