// float16 weights on WebGPU. Where the adapter has shader-f16 the worker loads every matrix in
// float16 (browser-model.ts; norm vectors stay float32) and the inference graphs multiply by each
// as stored, in float16 (forward.ts MatrixUse.half). Checked here: the upload really is half size
// (but for the norms); the page's greedy tokens are, token by token, ones onnxruntime-node's
// float16-weight session rates within 2e-2 of its best (node's CPU EP multiplies in float32, the
// page's in float16, so a near tie may go either way); and float16 weights move node's logits by
// at most 1e-2 of the largest float32 logit. SwiftShader (CI) has no shader-f16, so there the test
// is skipped; the worker protocol returns no logits, so both bounds are measured on node, the
// page's tokens held to them.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect } from '@playwright/test';
import { makeTinyModel } from '../scripts/make-tiny-model.ts';
import type { EngineClient } from '../src/engine/client.ts';
import { loadModelTokenizer } from '../src/engine/model-dir.ts';
import { nodeRuntime } from '../src/engine/runtime-node.ts';
import { Qwen3Session } from '../src/engine/session.ts';
import { weightElements } from '../src/testing/numerics.ts';
import { serveHub, type HubServer } from './support/hub.ts';

const QUERY = 'postgres connection pooling';
const NEW_TOKENS = 8;
const REPO = 'test/tiny-qwen3-f16';
/** max |f16 − f32| / max |f32| over the prompt's logits. */
const TOLERANCE = 1e-2;
/**
 * How far below node's best logit (÷ the largest) a page token may be: the page's float16 sums move
 * each logit by < 1e-2 of the largest (4.5e-3 emulated for this model: forward.test.ts), so the
 * page's pick and node's best differ by at most twice that.
 */
const TOKEN_TOLERANCE = 2e-2;

test('float16 weights on WebGPU: half the bytes, greedy tokens node rates within 2e-2 of its best, logits within 1e-2 of float32; float32 on request', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto('./');
  const shaderF16 = await page.evaluate(async () => (await navigator.gpu?.requestAdapter())?.features.has('shader-f16') ?? false);
  test.skip(!shaderF16, 'no shader-f16 on this adapter (SwiftShader)');

  const dir = await mkdtemp(join(tmpdir(), 'qmd-engine-f16-'));
  let hub: HubServer | null = null;
  try {
    const { config, weights } = await makeTinyModel(dir, { seed: 23, hidden: 64, layers: 2 });
    hub = await serveHub({ [REPO]: dir });
    const prompt = (await loadModelTokenizer(dir)).promptIds(QUERY);
    const full = await Qwen3Session.load(nodeRuntime, config, weights);
    const half = await Qwen3Session.load(nodeRuntime, config, weights, { weightDtype: 'float16' });
    const want = await full.forward(prompt);
    const got = await half.forward(prompt);
    const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const diff = got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i]!)), 0);
    expect(diff / scale).toBeLessThanOrEqual(TOLERANCE);
    expect(diff / scale).toBeGreaterThan(1e-6); // the weights really were rounded
    await full.release();
    const { matrices, norms } = weightElements(config);

    await page.goto(`./?hub=${encodeURIComponent(hub.url)}#/playground`);
    await page.getByTestId('base-repo').fill(REPO);
    await page.getByTestId('load-model').click();
    await expect(page.getByTestId('model-loaded')).toHaveText(REPO, { timeout: 120_000 });
    const run = await page.evaluate(
      async ({ query, maxNewTokens }) => {
        const client = (globalThis as unknown as { qmdEngine: { client: EngineClient } }).qmdEngine.client;
        const memory = await client.call({ type: 'memory' });
        const sampling = { greedy: true, temperature: 1, topK: 0, topP: 1, seed: 0, maxNewTokens };
        const { ids } = await client.call({ type: 'generate', query, adapter: null, sampling });
        return { weightBytes: memory.session?.weights ?? null, ids };
      },
      { query: QUERY, maxNewTokens: NEW_TOKENS },
    );
    expect(run.weightBytes).toBe(2 * matrices + 4 * norms); // norm vectors stay float32
    expect(run.ids.length).toBeGreaterThan(0);
    // Each page token under node's logits for the page's own prefix: at most TOKEN_TOLERANCE of the largest logit below the best.
    for (const [i, id] of run.ids.entries()) {
      await half.reset();
      const logits = await half.forward([...prompt, ...run.ids.slice(0, i)]);
      const best = logits.reduce((m, v) => Math.max(m, v), -Infinity);
      const scale = logits.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      expect((best - logits[id]!) / scale, `token ${i} (${id})`).toBeLessThanOrEqual(TOKEN_TOLERANCE);
    }
    await half.release();
    await expect(page.getByTestId('engine-error')).toHaveCount(0);

    // Choosing f32 weights loads full precision on the same GPU: twice the bytes.
    await page.getByTestId('weight-dtype').selectOption('f32');
    await page.getByTestId('load-model').click();
    await expect(page.getByTestId('model-loaded')).toHaveText(REPO, { timeout: 120_000 });
    const full32 = await page.evaluate(async () => {
      const client = (globalThis as unknown as { qmdEngine: { client: EngineClient } }).qmdEngine.client;
      return (await client.call({ type: 'memory' })).session?.weights ?? null;
    });
    expect(full32).toBe(4 * (matrices + norms));
  } finally {
    await hub?.close();
    await rm(dir, { recursive: true, force: true });
  }
});
