// Our ONNX Qwen3 against llama.cpp (node-llama-cpp, CPU, F32 KV cache): an independent
// implementation reading the same weights through the GGUF files src/model writes.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLlama, LlamaLogLevel, type ControlledEvaluateInputItem, type Llama, type LlamaModel, type Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModel, type TinyModelOptions } from '../../../scripts/make-tiny-model.ts';
import { nodeRuntime } from '../../engine/runtime-node.ts';
import { Qwen3Session } from '../../engine/session.ts';
import { loraGguf, qwen3Gguf } from '../gguf.ts';
import { qwen3TokenizerMetadata } from '../gguf-tokenizer.ts';

const ids = [151644, 872, 198, 14, 2152, 26865, 9190, 419, 2711, 3239, 25, 3704, 5975, 151645, 198, 151644, 77091, 198];

const dir = await mkdtemp(join(tmpdir(), 'qwen3-llama-'));
let llama: Llama;
beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
});
afterAll(async () => {
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function llamaLogProbs(model: LlamaModel, loraPath: string | null): Promise<Float64Array> {
  const context = await model.createContext({
    contextSize: 64,
    experimentalKvCacheKeyType: 'F32',
    experimentalKvCacheValueType: 'F32',
    flashAttention: false,
    lora: loraPath ? { adapters: [{ filePath: loraPath, scale: 1 }] } : undefined,
  });
  const tokens = ids as Token[];
  const input: ControlledEvaluateInputItem[] = tokens.slice(0, -1);
  input.push([tokens.at(-1)!, { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } }]);
  const output = await context.getSequence().controlledEvaluate(input);
  const probabilities = output.at(-1)!.next.probabilities!;
  await context.dispose();
  return Float64Array.from({ length: probabilities.size }, (_, i) => Math.log(probabilities.get(i as Token)!));
}

/** max |log_softmax(ours) − llama's log p| / max |logit|. */
function relativeError(logits: Float32Array, logProbs: Float64Array): number {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const logSum = max + Math.log(sum);
  let worst = 0;
  let scale = 0;
  logits.forEach((v, i) => {
    worst = Math.max(worst, Math.abs(v - logSum - logProbs[i]!));
    scale = Math.max(scale, Math.abs(v));
  });
  return worst / scale;
}

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
    const error = relativeError(await session.forward(ids), await llamaLogProbs(model, null));
    expect(error).toBeLessThan(1e-3);
    expect(error).toBeLessThan(1e-4); // what F32 on both sides actually reaches
  });

  it('random LoRA adapter on all seven projections agrees too', async () => {
    await session.setAdapter(made.adapter);
    const error = relativeError(await session.forward(ids), await llamaLogProbs(model, loraPath));
    expect(error).toBeLessThan(1e-4);
  });
});
