// What the Train page says during a run, on SwiftShader WebGPU with a tiny seeded Qwen3 from the
// test hub: 3 train rows at batch 2 × 2 micro-batches (one step per epoch, 3 steps), max length 48.
// Step 1 reports each graph it builds; the settings are locked while the run lasts; the pace
// readout counts steps and elapsed time; Escape cancels, acknowledged at once, and the run ends
// after the micro-batch in flight — step 2 discarded, the adapter of step 1 kept, no validation
// pass — counted in steps and micro-batches, not seconds. (The ETA once step 2 is done: train.e2e.ts.)
import { test, expect } from '@playwright/test';
import { openTrainWithModel, useTrainFixture } from './support/train.ts';

const fixture = useTrainFixture('train-feedback');

test('a run reports graph building, locks its settings, shows its pace, and Escape cancels between micro-batches', async ({ page }) => {
  test.setTimeout(300_000);
  const errors: string[] = [];
  const expected = /Failed to load resource: the server responded with a status of 404|\[W:onnxruntime:, session_state\.cc/;
  page.on('console', (m) => m.type() === 'error' && !expected.test(m.text()) && errors.push(m.text()));

  await openTrainWithModel(page, fixture());
  await expect(page.getByTestId('train-split')).toHaveText(/^3 train rows, 1 held out/);

  const fieldset = page.getByTestId('train-settings-fieldset');
  await page.getByTestId('train-max-length').fill('48');
  await page.getByTestId('train-batch').fill('2');
  await page.getByTestId('train-accum').fill('2');
  await page.getByTestId('train-max-steps').fill('3');
  await page.getByTestId('train-loss-completion').check();
  await expect(fieldset).toHaveJSProperty('disabled', false);
  await expect(page.getByTestId('train-settings-locked')).toHaveCount(0);

  // Every text the phase line shows, however briefly (a graph build can take well under a second).
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { phases: string[] }).phases = seen;
    new MutationObserver(() => {
      const text = document.querySelector('[data-testid="train-phase"]')?.textContent;
      if (text && seen.at(-1) !== text) seen.push(text);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  const phases = () => page.evaluate(() => (window as unknown as { phases: string[] }).phases);

  await page.getByTestId('train-start').click();
  const cancel = page.getByTestId('train-cancel');
  await expect(cancel).toBeFocused();
  await expect(fieldset).toHaveJSProperty('disabled', true);
  await expect(page.getByTestId('train-max-length')).toBeDisabled();
  await expect(page.getByTestId('train-settings-locked')).toContainText('Settings are locked while training runs');
  await expect(page.getByTestId('train-elapsed')).toHaveText(/^elapsed \d/);

  const rows = page.getByTestId('train-step-row');
  await expect(rows).toHaveCount(1, { timeout: 150_000 });
  await expect(page.getByTestId('train-pace-steps')).toHaveText('1 of 3 steps');
  await expect(page.getByTestId('train-pace-step-seconds')).toHaveText(/^step 1 took .+, building the graphs included$/);
  await expect(page.getByTestId('train-eta')).toHaveText('time left: known after step 2');
  const seen = await phases();
  // Micro-batches of 2 rows and 1 row (15–17 scored tokens each): loss positions bucketed to 32 or 64, and 16 or 32 (batches.ts); the v4 preset recomputes.
  expect(seen).toContainEqual(expect.stringMatching(/^Step 1: building graph 1 of \d \(train step for batch 2 × length 48 \((32|64) loss positions\), layers recomputed\)…$/));
  expect(seen).toContainEqual(expect.stringMatching(/^Step 1: creating the onnxruntime session for graph \d of \d \(AdamW update\); the graph took .+ to build…$/));
  expect(seen).toContain('Step 1 of 3: micro-batch 1 of 2 (the first run compiles the GPU shaders)…');
  expect(seen).toContain('Step 1 of 3: micro-batch 2 of 2 (the first run compiles the GPU shaders)…');
  const graphs = page.getByTestId('train-graph');
  await expect(graphs.filter({ hasText: /^train step for batch 1 × length 48 \((16|32) loss positions\), layers recomputed/ })).toHaveCount(1);
  await expect(graphs.filter({ hasText: 'gradient accumulation (first micro-batch)' })).toHaveCount(1);
  await expect(graphs.filter({ hasText: /^gradient accumulation \(step/ })).toHaveCount(1);
  await expect(graphs.filter({ hasText: 'AdamW update' })).toContainText(/\(step 1\): graph .+ s, onnxruntime session .+ s/);

  // Cancel while step 2's first micro-batch runs: the step is cut short there and discarded.
  const phase = page.getByTestId('train-phase');
  await expect(phase).toHaveText('Step 2 of 3: micro-batch 1 of 2…', { timeout: 30_000 });
  await expect(cancel).toBeFocused();
  const pressed = Date.now();
  await page.keyboard.press('Escape');
  await expect(phase).toHaveText(
    'Cancelling — finishing micro-batch 1 of 2 of step 2, then stopping: the partial step is discarded and the adapter of step 1 is kept…',
    { timeout: 1_000 },
  );
  const acknowledged = Date.now() - pressed;
  await expect(cancel).toHaveText('Cancelling…');
  await page.screenshot({ path: '/tmp/shots-train/cancelling.png', fullPage: true });

  await expect(page.getByTestId('train-done')).toBeVisible({ timeout: 60_000 });
  const ended = Date.now() - pressed;
  await expect(page.getByTestId('train-outcome-line')).toHaveText(
    'Cancelled during step 2 of 3, after 1 of its 2 micro-batches (that partial step is discarded) — the adapter of step 1 is kept',
  );
  await expect(rows).toHaveCount(1);
  await expect(page.getByTestId('train-validation-skipped')).toBeVisible();
  expect(await phases()).not.toContainEqual(expect.stringMatching(/^Step 2 of 3: micro-batch 2 of 2|^Cancelling — finishing step 2|^Computing the validation loss/));
  await expect(fieldset).toHaveJSProperty('disabled', false);
  await expect(page.getByTestId('train-settings-locked')).toHaveCount(0);
  await expect(page.getByTestId('train-start')).not.toBeFocused();
  await page.screenshot({ path: '/tmp/shots-train/cancelled.png', fullPage: true });
  console.log(`cancel acknowledged in ${acknowledged} ms; the run ended ${ended} ms after Escape`);
  expect(errors).toEqual([]);
});
