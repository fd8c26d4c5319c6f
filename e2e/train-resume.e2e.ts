// "Nothing lost" in the page, on SwiftShader WebGPU with a tiny seeded Qwen3 from the test hub:
// QMD's structured rows imported, a run checkpointed to IndexedDB every step, the page reloaded
// mid-run, the run listed as interrupted with its history, a resume refused without the model
// (naming it), then resumed from its checkpoint to the end. Its final LoRA parameters and AdamW
// moments match the same job run straight through on onnxruntime-node (runTrainJob in beforeAll)
// within TOLERANCE of each tensor's largest value (WebGPU float32 vs CPU float32).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '@playwright/test';
import { parseRow } from '../src/data/rows.ts';
import { splitDataset } from '../src/data/split.ts';
import type { TrainingCheckpoint } from '../src/engine/checkpoint.ts';
import { loadCheckpoint, loadModelTokenizer } from '../src/engine/model-dir.ts';
import type { TrainRow, TrainStep } from '../src/engine/protocol.ts';
import { nodeRuntime } from '../src/engine/runtime-node.ts';
import { Qwen3Session } from '../src/engine/session.ts';
import { parseTrainConfig } from '../src/engine/train-config.ts';
import { runTrainJob } from '../src/engine/train-job.ts';
import { loadTrainModel, openTrainWithModel, TRAIN_REPO, useTrainFixture } from './support/train.ts';

// QMD's current data (finetune/data/*.jsonl): 4 rows, 1 held out by the default 10 % split.
const ROWS = [
  { query: 'nginx reverse proxy', output: [['lex', 'nginx proxy_pass'], ['vec', 'configure nginx as a reverse proxy']] },
  { query: 'git rebase onto main', output: [['lex', 'git rebase --onto'], ['vec', 'rebase a branch onto main']], category: 'git' },
  { query: 'sqlite wal mode', output: [['lex', 'PRAGMA journal_mode=WAL'], ['vec', 'enable write-ahead logging']] },
  { query: 'rust borrow checker', output: [['lex', 'borrow checker'], ['vec', 'why rust rejects two mutable borrows']] },
];
const STEPS = 2;
const MAX_LENGTH = 48;
/** Largest |page − node| of a tensor over its largest |node| value (measured: see the report). */
const TOLERANCE = 1e-3;

const fixture = useTrainFixture('train-resume', ROWS, 'qmd-structured.jsonl');
let reference: { steps: TrainStep[]; validationLoss: number; checkpoint: TrainingCheckpoint };

test.beforeAll(async () => {
  const base = join(fixture().dir, 'base');
  const sft = parseTrainConfig(readFileSync(new URL('../configs/sft.yaml', import.meta.url), 'utf8'), 'configs/sft.yaml');
  // One row per step keeps SwiftShader's steps short (3 train rows make 3 steps an epoch; the run stops at 2).
  const config = { ...sft, training: { ...sft.training, maxLength: MAX_LENGTH, lossOn: 'completion' as const, batchSize: 1, gradAccum: 1 } };
  const lines = readFileSync(fixture().dataFile, 'utf8').trim().split('\n');
  const rows = lines.map((line) => parseRow(line)).map((r, i): TrainRow => {
    if (!r.ok) throw new Error(`row ${i + 1}: ${r.reason}`);
    return { query: r.query, completion: r.completion, line: i + 1 };
  });
  // The page's split: the dataset's own validation part (DEFAULT_VALIDATION), rows in order.
  const split = splitDataset(rows.length, { ratio: 0.1, seed: 42 });
  const held = new Set(split.validation);
  const parts = { train: rows.filter((_, i) => !held.has(i)), validation: rows.filter((_, i) => held.has(i)) };
  const { config: model, weights } = await loadCheckpoint(base);
  const session = await Qwen3Session.load(nodeRuntime, model, weights);
  let checkpoint: TrainingCheckpoint | undefined;
  const outcome = await runTrainJob(nodeRuntime, { config: model, tokenizer: await loadModelTokenizer(base), session }, { rows: parts, config, maxSteps: STEPS, checkpointEvery: STEPS, validateEvery: 1 }, {
    onCheckpoint: async (c) => void (checkpoint = c),
  });
  await session.release();
  reference = { steps: outcome.steps, validationLoss: outcome.validationLoss!, checkpoint: checkpoint! };
});

/** The stored checkpoint of the one run in the page's IndexedDB, its tensors as plain arrays. */
async function storedCheckpoint(page: import('@playwright/test').Page) {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open('qmd-lab');
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    const all = await new Promise<{ checkpoint: { state: { step: number; tensors: Record<string, Float32Array> }; metrics: { step: number }[] } }[]>((resolve, reject) => {
      const get = db.transaction('trainCheckpoints').objectStore('trainCheckpoints').getAll();
      get.onsuccess = () => resolve(get.result);
      get.onerror = () => reject(get.error);
    });
    db.close();
    return all.map(({ checkpoint: c }) => ({ step: c.state.step, steps: c.metrics.map((m) => m.step), tensors: Object.fromEntries(Object.entries(c.state.tensors).map(([k, v]) => [k, Array.from(v)])) }));
  });
}

test('a run reloaded mid-way is listed as interrupted and resumes from its checkpoint to the parameters onnxruntime-node reaches', async ({ page }) => {
  // About 2.5 minutes on SwiftShader here (2 cores shared), most of it the two steps' LM head.
  test.setTimeout(300_000);
  page.on('dialog', (dialog) => void dialog.accept());
  await openTrainWithModel(page, fixture(), ROWS.length);
  await page.getByTestId('train-max-length').fill(String(MAX_LENGTH));
  await page.getByTestId('train-max-steps').fill(String(STEPS));
  await page.getByTestId('train-batch').fill('1');
  await page.getByTestId('train-accum').fill('1');
  await page.getByTestId('train-checkpoint-every').fill('1');
  await page.getByTestId('train-validate-every').fill('1');
  await page.getByTestId('train-loss-completion').check();
  await page.getByTestId('train-start').click();

  const run = page.getByTestId('train-run');
  await expect(run).toHaveCount(1);
  await expect(run).toHaveAttribute('data-status', 'running');
  // Reload as soon as step 1's checkpoint is stored.
  await expect(run.getByTestId('train-run-steps')).toContainText('(checkpoint 1)', { timeout: 120_000 });
  await page.reload();

  await expect(run).toHaveAttribute('data-status', 'interrupted');
  await expect(run.getByTestId('train-run-model')).toHaveText(TRAIN_REPO);
  await expect(run.getByTestId('train-run-dataset')).toHaveText('qmd-structured.jsonl');
  await run.getByTestId('train-run-history').click();
  await expect(page.getByTestId('train-run-note')).toContainText('it resumes from the checkpoint of step 1');
  const history = page.getByTestId('train-run-detail');
  await expect(history.getByTestId('loss-point').first()).toBeVisible();
  const before = await storedCheckpoint(page);
  expect(before.map((c) => c.step)).toEqual([1]);

  // No model after the reload: the resume says which to load.
  await run.getByTestId('train-run-resume').click();
  await expect(page.getByTestId('train-error')).toHaveText(/no model is loaded: load test\/tiny-qwen3 in the Playground to resume it/);

  await loadTrainModel(page);
  await expect(run.getByTestId('train-run-resume')).toHaveText('Resume from step 1');
  await run.getByTestId('train-run-resume').click();
  await expect(page.getByTestId('train-done')).toBeVisible({ timeout: 150_000 });
  await expect(run).toHaveAttribute('data-status', 'finished');
  await expect(run.getByTestId('train-run-steps')).toContainText(`${STEPS} / ${STEPS}`);
  // Step 1's record (its validation loss included) came from the checkpoint; step 2 and the final validation ran after the resume.
  await expect(page.getByTestId('train-step-row')).toHaveCount(STEPS);
  const validation = await page.getByTestId('validation-point').evaluateAll((points) => points.map((p) => Number(p.getAttribute('data-loss'))));
  const wanted = [reference.steps[0]!.validationLoss!, reference.validationLoss];
  expect(validation).toHaveLength(2);
  validation.forEach((loss, i) => expect(Math.abs(loss - wanted[i]!) / wanted[i]!).toBeLessThan(1e-3));

  const [after] = await storedCheckpoint(page);
  expect(after!.step).toBe(STEPS);
  expect(after!.steps).toEqual([1, 2]);
  const expected = reference.checkpoint.state.tensors;
  expect(Object.keys(after!.tensors).sort()).toEqual(Object.keys(expected).sort());
  const gaps = Object.entries(expected).map(([name, want]) => {
    const got = after!.tensors[name]!;
    let gap = 0;
    let scale = 0;
    want.forEach((w, i) => {
      gap = Math.max(gap, Math.abs(got[i]! - w));
      scale = Math.max(scale, Math.abs(w));
    });
    return { name, relative: gap / Math.max(scale, 1e-30) };
  });
  const worst = gaps.reduce((a, b) => (b.relative > a.relative ? b : a));
  console.log(`train-resume: worst tensor ${worst.name}: max |page − node| / max |node| = ${worst.relative.toExponential(2)}`);
  for (const g of gaps) expect(g.relative, g.name).toBeLessThan(TOLERANCE);
  const losses = (await page.getByTestId('train-step-loss').allTextContents()).map(Number).reverse();
  losses.forEach((loss, i) => expect(Math.abs(loss - reference.steps[i]!.loss) / reference.steps[i]!.loss).toBeLessThan(1e-3));
});
