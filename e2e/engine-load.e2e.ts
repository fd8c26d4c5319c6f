// The engine worker under load on SwiftShader WebGPU: 200 generate requests with a tiny seeded
// Qwen3 (1–2 new tokens each), most cancelled at random moments (while queued, mid-generation),
// four in flight at a time. Every request must be answered, the device must hold exactly what
// it held before (no leaked GPU buffer or tensor), and every result must be the greedy output
// onnxruntime-node computes for the same model.
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
import type { EngineClient } from '../src/engine/client.ts';
import type { MemoryReport } from '../src/engine/protocol.ts';
import { serveHub, type HubServer } from './support/hub.ts';

const QUERY = 'rust async runtime';
const REQUESTS = 200;
const REPO = 'test/tiny-qwen3';

let dir: string;
let hub: HubServer;
let reference: number[] = [];

test.beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qmd-engine-load-'));
  await makeTinyModel(dir, { seed: 11, hidden: 64, layers: 2 });
  hub = await serveHub({ [REPO]: dir });
  const { config, weights } = await loadCheckpoint(dir);
  const session = await Qwen3Session.load(nodeRuntime, config, weights);
  const greedy = { greedy: true, temperature: 1, topK: 0, topP: 1, seed: 0, maxNewTokens: 2, stopTokens: STOP_TOKENS };
  reference = (await generate(session, (await loadModelTokenizer(dir)).promptIds(QUERY), greedy)).ids;
  await session.release();
});

test.afterAll(async () => {
  await hub?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Outcome {
  i: number;
  tokens: number;
  mode: 'queued' | 'mid' | 'none';
  ids?: number[];
  code?: string;
  message?: string;
}

test('200 generate requests, most cancelled at random moments: all answered, nothing leaked, greedy results exact', async ({ page }) => {
  test.setTimeout(480_000);
  expect(reference.length).toBe(2); // a stop token in the first two would make the length checks below meaningless
  await page.goto(`./?hub=${encodeURIComponent(hub.url)}#/playground`);
  await page.getByTestId('base-repo').fill(REPO);
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('model-loaded')).toHaveText(REPO, { timeout: 120_000 });

  const run = await page.evaluate(
    async ({ query, requests }) => {
      const client = (globalThis as unknown as { qmdEngine: { client: EngineClient } }).qmdEngine.client;
      const sampling = (maxNewTokens: number) => ({ greedy: true, temperature: 1, topK: 0, topP: 1, seed: 0, maxNewTokens });
      const gen = (tokens: number, signal?: AbortSignal) => client.call({ type: 'generate', query, adapter: null, sampling: sampling(tokens) }, { signal });
      // Both lengths once, so that ORT's buffer pool holds every shape the run will use.
      await gen(1);
      await gen(2);
      const before = await client.call({ type: 'memory' });
      let state = 12345;
      const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const outcomes: Outcome[] = [];
      const one = async (i: number, mode: Outcome['mode']) => {
        const tokens = 1 + (i % 2);
        const controller = new AbortController();
        const answer = gen(tokens, controller.signal);
        if (mode === 'queued') controller.abort();
        if (mode === 'mid') setTimeout(() => controller.abort(), random() * 500);
        const unanswered = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 60 s')), 60_000));
        try {
          outcomes.push({ i, tokens, mode, ids: (await Promise.race([answer, unanswered])).ids });
        } catch (error) {
          const e = error as { code?: string; message: string };
          outcomes.push({ i, tokens, mode, code: e.code ?? 'unanswered', message: e.message });
        }
      };
      const started = performance.now();
      let next = 0;
      const lane = async () => {
        while (next < requests - 1) {
          const i = next++;
          const r = random();
          await one(i, r < 0.5 ? 'queued' : r < 0.92 ? 'mid' : 'none');
        }
      };
      await Promise.all([lane(), lane(), lane(), lane()]);
      await one(requests - 1, 'none');
      const seconds = (performance.now() - started) / 1000;
      return { outcomes, before, after: await client.call({ type: 'memory' }), seconds };
    },
    { query: QUERY, requests: REQUESTS },
  );

  const { outcomes, before, after, seconds } = run as { outcomes: Outcome[]; before: MemoryReport; after: MemoryReport; seconds: number };
  const results = outcomes.filter((o) => o.ids);
  const cancelled = outcomes.filter((o) => o.code === 'cancelled');
  console.log(`${REQUESTS} requests in ${seconds.toFixed(1)} s: ${results.length} results, ${cancelled.length} cancelled; ` +
    `live GPU buffers ${before.liveBuffers} → ${after.liveBuffers}, device tensors ${before.deviceTensors} → ${after.deviceTensors}`);
  expect(outcomes).toHaveLength(REQUESTS);
  expect(outcomes.filter((o) => !o.ids && o.code !== 'cancelled')).toEqual([]);
  expect(cancelled.length).toBeGreaterThan(REQUESTS / 2);
  expect(cancelled.filter((o) => o.mode === 'mid').length).toBeGreaterThan(0);
  for (const o of results) expect(o.ids, `request ${o.i} (${o.mode})`).toEqual(reference.slice(0, o.tokens));
  expect(outcomes.find((o) => o.i === REQUESTS - 1)?.ids).toEqual(reference);

  expect(after.deviceTensors).toBe(before.deviceTensors);
  expect(after.liveBuffers).toBe(before.liveBuffers);
  expect(after.liveBufferBytes).toBe(before.liveBufferBytes);
  expect(after.session).toEqual(before.session);
});
