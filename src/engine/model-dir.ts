// Node-only: a Hugging Face model folder (config.json + model.safetensors or a sharded index)
// and PEFT adapter folders, read and written through src/model.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseQwen3Config, type Qwen3Config } from '../model/config.ts';
import { openFileSource } from '../model/file-source.ts';
import { readPeftAdapter, writePeftAdapter, type LoraAdapter } from '../model/peft.ts';
import { openShardedCheckpoint, SafetensorsFile, type TensorReader } from '../model/safetensors.ts';
import { qwen3TensorShapes } from '../model/tensors.ts';
import { loadTokenizer, type Qwen3Tokenizer } from './tokenizer.ts';
import { loadBundledTokenizer } from './tokenizer-node.ts';

export interface Qwen3Checkpoint {
  config: Qwen3Config;
  /** Every tensor of qwen3TensorShapes(config), float32, by HF name. */
  weights: Map<string, Float32Array>;
}

const readJson = async (path: string): Promise<unknown> => JSON.parse(await readFile(path, 'utf8'));

async function openCheckpoint(dir: string): Promise<{ reader: TensorReader; close(): Promise<void> }> {
  const index = join(dir, 'model.safetensors.index.json');
  const sources: { close(): Promise<void> }[] = [];
  const open = async (file: string) => {
    const source = await openFileSource(join(dir, file));
    sources.push(source);
    return source;
  };
  const reader = existsSync(index)
    ? await openShardedCheckpoint(await readJson(index), open, index)
    : await SafetensorsFile.open(await open('model.safetensors'));
  return { reader, close: async () => void (await Promise.all(sources.map((s) => s.close()))) };
}

export async function loadCheckpoint(dir: string): Promise<Qwen3Checkpoint> {
  const configPath = join(dir, 'config.json');
  const config = parseQwen3Config(await readJson(configPath), configPath);
  const { reader, close } = await openCheckpoint(dir);
  try {
    const weights = new Map<string, Float32Array>();
    for (const [name, shape] of qwen3TensorShapes(config)) {
      const stored = reader.info(name).shape;
      if (stored.join(',') !== shape.join(',')) {
        throw new Error(`${dir}: tensor ${name} has shape [${stored.join(', ')}], config.json implies [${shape.join(', ')}]`);
      }
      weights.set(name, await reader.read(name));
    }
    return { config, weights };
  } finally {
    await close();
  }
}

export async function loadAdapter(dir: string, config: Qwen3Config): Promise<LoraAdapter> {
  const source = await openFileSource(join(dir, 'adapter_model.safetensors'));
  try {
    const weights = await SafetensorsFile.open(source);
    return await readPeftAdapter(await readJson(join(dir, 'adapter_config.json')), weights, config, source.name);
  } finally {
    await source.close();
  }
}

export async function saveAdapter(dir: string, adapter: LoraAdapter, config: Qwen3Config): Promise<void> {
  const { configJson, safetensors } = writePeftAdapter(adapter, config);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'adapter_config.json'), configJson);
  await writeFile(join(dir, 'adapter_model.safetensors'), safetensors);
}

/** The model folder's own tokenizer when it ships one, else the bundled Qwen3 tokenizer. */
export function loadModelTokenizer(dir: string): Promise<Qwen3Tokenizer> {
  return existsSync(join(dir, 'tokenizer.json')) && existsSync(join(dir, 'tokenizer_config.json'))
    ? loadTokenizer(dir)
    : loadBundledTokenizer();
}
