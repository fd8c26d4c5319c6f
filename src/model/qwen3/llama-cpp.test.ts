// Our ONNX Qwen3 against llama.cpp (node-llama-cpp, CPU, F32 KV cache): an independent
// implementation reading the same weights through the GGUF files src/model writes.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModel, type TinyModelOptions } from '../../../scripts/make-tiny-model.ts';
import { nodeRuntime } from '../../engine/runtime-node.ts';
import { Qwen3Session } from '../../engine/session.ts';
import { loraGguf, qwen3Gguf } from '../gguf.ts';
import { qwen3TokenizerMetadata } from '../gguf-tokenizer.ts';
import { cpuLlama, llamaLogProbs, PROMPT_IDS as ids, relativeLogProbError as relativeError } from '../../testing/llama.ts';


const dir = await mkdtemp(join(tmpdir(), 'qwen3-llama-'));
let llama: Llama;
beforeAll(async () => {
  llama = await cpuLlama();
});
afterAll(async () => {
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe.each([
  ['tied, GQA 2:1', { seed: 31 }],
  ['untied, GQA 3:1, heads·head_dim ≠ hidden', { seed: 32, heads: 6, kvHeads: 2, headDim: 16, intermediate: 96, untied: true }],
] satisfies Array<[string, TinyModelOptions]>)('ONNX graph vs llama.cpp: %s', (name, options) => {
  const key = name.split(',')[0]!;
  let session: Qwen3Session;
  let model: LlamaModel;
  let made: Awaited<ReturnType<typeof makeTinyModel>>;
  const loraPath = join(dir, `${key}.lora.gguf`);
  beforeAll(async () => {
    const modelDir = join(dir, key);
    made = await makeTinyModel(modelDir, { ...options, adapter: { dir: join(dir, `${key}-lora`), rank: 4, alpha: 8 } });
    const tokenizer = JSON.parse(await readFile(join(modelDir, 'tokenizer.json'), 'utf8'));
    const tokenizerConfig = JSON.parse(await readFile(join(modelDir, 'tokenizer_config.json'), 'utf8'));
    const reader = { read: async (n: string) => made.weights.get(n)! };
    const ggufPath = join(modelDir, 'model.gguf');
    await writeFile(ggufPath, await qwen3Gguf(made.config, reader, qwen3TokenizerMetadata(tokenizer, tokenizerConfig, made.config)));
    await writeFile(loraPath, loraGguf(made.adapter!, made.config));
    model = await llama.loadModel({ modelPath: ggufPath });
    session = await Qwen3Session.load(nodeRuntime, made.config, made.weights);
  });
  afterAll(async () => {
    await model?.dispose();
    await session?.release();
  });

  it('base model: log-probabilities agree within 1e-3 of the largest logit', async () => {
    await session.setAdapter(null);
    const error = relativeError(await session.forward(ids), await llamaLogProbs(model, ids));
    expect(error).toBeLessThan(1e-3);
    expect(error).toBeLessThan(1e-4); // what F32 on both sides actually reaches
  });

  it('random LoRA adapter on all seven projections agrees too', async () => {
    await session.setAdapter(made.adapter);
    const error = relativeError(await session.forward(ids), await llamaLogProbs(model, ids, loraPath));
    expect(error).toBeLessThan(1e-4);
  });
});
