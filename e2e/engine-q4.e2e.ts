// 4-bit weights on WebGPU: the model panel's q4 choice loads every matrix as MatMulNBits codes and
// scales (quantized in the worker as each tensor is read). Checked here: the GPU holds the bytes
// the layout says; the page generates, token for token, what onnxruntime-node's q4 session does
// from the same file (so the WebGPU kernels of MatMulNBits and GatherBlockQuantized compute what
// the CPU ones do, src/engine/session-q4.test.ts holding those to the dequantized float32 model);
// no node of the decode graph falls back to the CPU; training from the q4 load is refused, naming the weights, and the
// Train and GRPO pages hold Start with that refusal; and
// the 4-bit weights are kept in the model cache, from which the next q4 load reads them — asked for
// as q4f16, which a GPU without shader-f16 (SwiftShader) loads as q4, saying so in the estimate.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect } from '@playwright/test';
import { makeTinyModel } from '../scripts/make-tiny-model.ts';
import type { EngineClient } from '../src/engine/client.ts';
import { generate } from '../src/engine/generate.ts';
import { loadModelTokenizer } from '../src/engine/model-dir.ts';
import { cpuNodes } from '../src/engine/placement.ts';
import { q4CopyFile } from '../src/engine/q4-copy.ts';
import { nodeRuntime } from '../src/engine/runtime-node.ts';
import { Qwen3Session } from '../src/engine/session.ts';
import { STOP_TOKENS } from '../src/engine/tokenizer.ts';
import { parseTrainConfig } from '../src/engine/train-config.ts';
import { layoutBytes, weightLayout } from '../src/model/qwen3/layout.ts';
import { serveHub, type HubServer } from './support/hub.ts';

const QUERY = 'postgres connection pooling';
// A prefill and one decode step: SwiftShader is slow, and the first run compiles every shader.
const NEW_TOKENS = 2;
const REPO = 'test/tiny-qwen3-q4';

test('q4 weights on WebGPU: the layout’s bytes, onnxruntime-node’s q4 greedy tokens, no CPU fallback, training refused', async ({ page }) => {
  test.setTimeout(300_000);
  const dir = await mkdtemp(join(tmpdir(), 'qmd-engine-q4-'));
  let hub: HubServer | null = null;
  try {
    const { config, weights } = await makeTinyModel(dir, { seed: 29, hidden: 64, layers: 2 });
    hub = await serveHub({ [REPO]: dir });
    const prompt = (await loadModelTokenizer(dir)).promptIds(QUERY);
    const q4 = await Qwen3Session.load(nodeRuntime, config, weights, { weightDtype: 'q4' });
    const greedy = { greedy: true, temperature: 1, topK: 0, topP: 1, seed: 0, maxNewTokens: NEW_TOKENS, stopTokens: STOP_TOKENS };
    const reference = (await generate(q4, prompt, greedy)).ids;
    await q4.release();
    const sft = parseTrainConfig(readFileSync(new URL('../configs/sft.yaml', import.meta.url), 'utf8'), 'configs/sft.yaml');

    await page.goto(`./?hub=${encodeURIComponent(hub.url)}#/playground`);
    await page.getByTestId('weight-dtype').selectOption('q4');
    await expect(page.getByTestId('weight-help')).toContainText('training and merging need f16 or f32');
    await page.getByTestId('base-repo').fill(REPO);
    await page.getByTestId('load-model').click();
    await expect(page.getByTestId('model-loaded')).toHaveText(REPO, { timeout: 60_000 });
    await expect(page.getByTestId('load-estimate')).toContainText('of q4 weights');
    const run = await page.evaluate(
      async ({ query, maxNewTokens, train }) => {
        const client = (globalThis as unknown as { qmdEngine: { client: EngineClient } }).qmdEngine.client;
        const memory = await client.call({ type: 'memory' });
        const sampling = { greedy: true, temperature: 1, topK: 0, topP: 1, seed: 0, maxNewTokens };
        const { ids } = await client.call({ type: 'generate', query, adapter: null, sampling });
        const placements = await client.call({ type: 'placements' });
        const refusal = await client.call({ type: 'train-memory', config: train }).then(
          () => null,
          (error: Error) => error.message,
        );
        return { weightBytes: memory.session?.weights ?? null, ids, placements, refusal };
      },
      { query: QUERY, maxNewTokens: NEW_TOKENS, train: sft },
    );
    expect(run.weightBytes).toBe(layoutBytes(config, weightLayout(config, { weightDtype: 'q4' })));
    expect(run.ids).toEqual(reference);
    expect(cpuNodes(run.placements)).toEqual([]); // the decode graph whole, the head's repeated rows (SwiftShader's 'rows' product) too
    expect(run.refusal).toMatch(/^training needs float32 or float16 base weights, and this model is loaded with 4-bit ones .*model\.embed_tokens\.weight\^q4\.packed/);
    await expect(page.getByTestId('engine-error')).toHaveCount(0);
    await expect(page.getByTestId('model-weights-from')).toHaveCount(0);
    // Both training pages say so before a click, as a refusal that holds Start (not as a failed estimate).
    const nav = page.getByRole('navigation', { name: 'Main' });
    for (const [link, id, what] of [['Train', 'train', 'training'], ['GRPO', 'grpo', 'GRPO']] as const) {
      await nav.getByRole('link', { name: link }).click();
      await expect(page.getByTestId(`${id}-memory-refusal`)).toContainText(`This model cannot be trained as loaded: ${what} needs float32 or float16 base weights`);
      await expect(page.getByTestId(`${id}-memory-failed`)).toHaveCount(0);
      await expect(page.getByTestId(`${id}-start`)).toBeDisabled();
    }
    await nav.getByRole('link', { name: 'Playground' }).click();

    // The load kept its 4-bit weights in the model cache; after a reload the next q4 load reads
    // them (codes, scales, norms: the layout's bytes and a header) instead of the checkpoint, and generates the same.
    // Asked for q4f16, which needs shader-f16: SwiftShader has none, so the load is q4's.
    const copy = page.locator(`[data-testid="cache-entry"][data-file="${q4CopyFile(weightLayout(config, { weightDtype: 'q4' }))}"]`);
    await page.getByTestId('model-cache').locator('summary').click();
    await expect(copy).toHaveAttribute('data-complete', 'true');
    await page.reload();
    await page.getByTestId('weight-dtype').selectOption('q4f16');
    await expect(page.getByTestId('weight-help')).toContainText('(q4 without shader-f16)');
    await page.getByTestId('base-repo').fill(REPO);
    await page.getByTestId('load-model').click();
    await expect(page.getByTestId('model-weights-from')).toHaveText('from the 4-bit copy kept in this browser', { timeout: 60_000 });
    await expect(page.getByTestId('load-estimate')).toContainText('of q4 weights');
    const again = await page.evaluate(
      async ({ query, maxNewTokens }) => {
        const client = (globalThis as unknown as { qmdEngine: { client: EngineClient } }).qmdEngine.client;
        return (await client.call({ type: 'generate', query, adapter: null, sampling: { greedy: true, temperature: 1, topK: 0, topP: 1, seed: 0, maxNewTokens } })).ids;
      },
      { query: QUERY, maxNewTokens: NEW_TOKENS },
    );
    expect(again).toEqual(reference);
  } finally {
    await hub?.close();
    await rm(dir, { recursive: true, force: true });
  }
});
