// Exports for QMD loaded by llama.cpp (node-llama-cpp, CPU, F32 KV cache): merged models (base + adapter
// in one GGUF, f32/f16/Q8_0, streamed) and the adapter alone as a GGUF LoRA on the f32 base. Its logits
// and greedy tokens against our ONNX graph with the adapter live — two independent implementations,
// one of them reading only the exported files.
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModel } from '../../../scripts/make-tiny-model.ts';
import { nodeRuntime } from '../../engine/runtime-node.ts';
import { Qwen3Session } from '../../engine/session.ts';
import { loadBundledTokenizer } from '../../engine/tokenizer-node.ts';
import { loraGguf, qwen3GgufParts, wholeTensorRows, writeGguf, type GgufType } from '../gguf.ts';
import { qwen3TokenizerMetadata } from '../gguf-tokenizer.ts';
import { mergedReader } from '../merge.ts';
import { cpuLlama, llamaGreedyAlong, llamaLogProbs, relativeLogProbError as relativeError } from '../../testing/llama.ts';

const dir = await mkdtemp(join(tmpdir(), 'merged-gguf-'));
const QUERIES = ['auth config', 'how to rebase in git', 'Café 2024 TDS'];
const GREEDY_TOKENS = 6;
let llama: Llama;
let session: Qwen3Session;
let made: Awaited<ReturnType<typeof makeTinyModel>>;
let prompts: number[][];
let tokenizerMetadata: ReturnType<typeof qwen3TokenizerMetadata>;

beforeAll(async () => {
  llama = await cpuLlama();
  // hidden 64 and ffn 128 keep every row a multiple of Q8_0's 32-value block.
  made = await makeTinyModel(join(dir, 'model'), { seed: 41, intermediate: 128, adapter: { dir: join(dir, 'lora'), rank: 4, alpha: 8 } });
  session = await Qwen3Session.load(nodeRuntime, made.config, made.weights);
  await session.setAdapter(made.adapter);
  const tokenizer = await loadBundledTokenizer();
  prompts = QUERIES.map((q) => tokenizer.promptIds(q));
  const json = async (file: string) => JSON.parse(await readFile(join(dir, 'model', file), 'utf8'));
  tokenizerMetadata = qwen3TokenizerMetadata(await json('tokenizer.json'), await json('tokenizer_config.json'), made.config);
});
afterAll(async () => {
  await session?.release();
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** Logits after `ids` from a fresh KV cache (forward appends to the session's cache). */
async function ourLogits(ids: number[]): Promise<Float32Array> {
  await session.reset();
  return session.forward(ids);
}

/** Greedy tokens from our graph, decoding on the session's KV cache. */
async function ourGreedy(ids: number[]): Promise<number[]> {
  const out = [argmax(await ourLogits(ids))];
  while (out.length < GREEDY_TOKENS) out.push(argmax(await session.forward([out.at(-1)!])));
  return out;
}

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

describe.each([
  ['F32', 1e-4],
  ['F16', 1e-2],
  ['Q8_0', 5e-2],
] satisfies Array<[GgufType, number]>)('merged GGUF %s', (type, tolerance) => {
  let model: LlamaModel;
  let written = 0;
  let writes = 0;
  let largestWrite = 0;
  beforeAll(async () => {
    const path = join(dir, `merged-${type}.gguf`);
    const read = mergedReader(async (n) => made.weights.get(n)!, made.adapter!, made.config);
    const { metadata, tensors } = qwen3GgufParts(made.config, wholeTensorRows(made.config, read), tokenizerMetadata, { type });
    const file = await open(path, 'w');
    const size = await writeGguf(async (bytes) => {
      await file.write(bytes);
      written += bytes.byteLength;
      writes++;
      largestWrite = Math.max(largestWrite, bytes.byteLength);
    }, metadata, tensors);
    await file.close();
    expect(written).toBe(size);
    model = await llama.loadModel({ modelPath: path });
  });
  afterAll(() => model?.dispose());

  it('streams one tensor at a time: no write is larger than the largest tensor or the header', () => {
    const embedding = made.config.vocabSize * made.config.hiddenSize * 4;
    expect(writes).toBeGreaterThan(made.config.numLayers * 11);
    expect(largestWrite).toBeLessThanOrEqual(Math.max(embedding, 8 << 20));
  });

  it(`logits match ours with the adapter live, within ${tolerance} of the largest logit`, async () => {
    for (const ids of prompts) {
      const error = relativeError(await ourLogits(ids), await llamaLogProbs(model, ids));
      console.log(`merged ${type}: relative error ${error.toExponential(2)}`);
      expect(error).toBeLessThan(tolerance);
    }
  });

  it('the merge is what moves the logits: the base alone is far off', async () => {
    await session.setAdapter(null);
    const baseError = relativeError(await ourLogits(prompts[0]!), await llamaLogProbs(model, prompts[0]!));
    await session.setAdapter(made.adapter);
    expect(baseError).toBeGreaterThan(tolerance);
  });

  it.runIf(type !== 'Q8_0')('greedy tokens match ours for 3 queries', async () => {
    for (const ids of prompts) {
      const ours = await ourGreedy(ids);
      expect(await llamaGreedyAlong(model, ids, ours.slice(0, -1))).toEqual(ours);
    }
  });
});

describe('GGUF LoRA adapter on the f32 base GGUF', () => {
  let base: LlamaModel;
  const loraPath = join(dir, 'adapter.gguf');
  const tolerance = 1e-4;
  beforeAll(async () => {
    const basePath = join(dir, 'base-F32.gguf');
    const { metadata, tensors } = qwen3GgufParts(made.config, wholeTensorRows(made.config, async (n) => made.weights.get(n)!), tokenizerMetadata, { type: 'F32' });
    const file = await open(basePath, 'w');
    await writeGguf(async (bytes) => void (await file.write(bytes)), metadata, tensors);
    await file.close();
    await writeFile(loraPath, loraGguf(made.adapter!, made.config));
    base = await llama.loadModel({ modelPath: basePath });
  });
  afterAll(() => base?.dispose());

  it(`logits match ours with the adapter live, within ${tolerance} of the largest logit; without the LoRA they are far off`, async () => {
    for (const ids of prompts) {
      const ours = await ourLogits(ids);
      const error = relativeError(ours, await llamaLogProbs(base, ids, loraPath));
      console.log(`GGUF LoRA: relative error ${error.toExponential(2)}`);
      expect(error).toBeLessThan(tolerance);
      expect(relativeError(ours, await llamaLogProbs(base, ids))).toBeGreaterThan(100 * error);
    }
  });

  it('greedy tokens match ours for 3 queries', async () => {
    for (const ids of prompts) {
      const ours = await ourGreedy(ids);
      expect(await llamaGreedyAlong(base, ids, ours.slice(0, -1), loraPath)).toEqual(ours);
    }
  });
});
