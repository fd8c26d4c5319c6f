// Node-only: a Hugging Face model folder (config.json + model.safetensors or a sharded index)
// and PEFT adapter folders, read and written through src/model. Every file is named in its
// errors, and a folder that disagrees with its config.json fails before any tensor is read.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ByteSource } from '../model/byte-source.ts';
import { parseQwen3Config, type Qwen3Config } from '../model/config.ts';
import type { StoredTensor } from '../model/dtype.ts';
import { openFileSource } from '../model/file-source.ts';
import { readJson } from '../model/hub/download.ts';
import { readPeftAdapter, writePeftAdapter, type LoraAdapter } from '../model/peft.ts';
import { openShardedCheckpoint, SafetensorsFile, type TensorRowReader } from '../model/safetensors.ts';
import { checkCheckpointTensors, qwen3TensorShapes, resolveTiedHead } from '../model/tensors.ts';
import type { Runtime } from './runtime.ts';
import { Qwen3Session, type Qwen3SessionOptions } from './session.ts';
import { loadTokenizer, type Qwen3Tokenizer } from './tokenizer.ts';
import { bundledTokenizerDir, loadBundledTokenizer } from './tokenizer-node.ts';

export interface Qwen3Checkpoint {
  config: Qwen3Config;
  /** Every tensor of qwen3TensorShapes(config), float32, by HF name. */
  weights: Map<string, Float32Array>;
}

/** Where a load reports what it did on the user's behalf (a substituted tokenizer, an untied head). */
export type Warn = (message: string) => void;

export const warnOnStderr: Warn = (message) => void process.stderr.write(`warning: ${message}\n`);

// config.json, a shard index, adapter_config.json and the tokenizer's files (Qwen3's tokenizer.json
// is 11 MB): a bigger one is not what its name says, and is refused before it is read.
const MAX_JSON_BYTES = 64 * 1024 * 1024;

/** A small file's bytes, refused by name when it is a directory or over `maxBytes`. */
async function readSmallFile<T>(path: string, maxBytes: number, what: string, parse: (source: ByteSource) => Promise<T>): Promise<T> {
  const source = await openFileSource(path);
  try {
    if (source.size > maxBytes) throw new Error(`${path}: ${source.size} bytes is over the ${maxBytes} bytes ${what} may have`);
    return await parse(source);
  } finally {
    await source.close();
  }
}

const readJsonFile = (path: string) => readSmallFile(path, MAX_JSON_BYTES, 'a JSON file of a model folder', readJson);

/** A text file of settings (configs/*.yaml), with the same refusals. */
export const readSettingsFile = (path: string): Promise<string> =>
  readSmallFile(path, 1024 * 1024, 'a settings file', async (source) => new TextDecoder().decode(await source.read(0, source.size)));

async function openCheckpoint(dir: string): Promise<{ reader: TensorRowReader; file: string; close(): Promise<void> }> {
  const index = join(dir, 'model.safetensors.index.json');
  const sources: { close(): Promise<void> }[] = [];
  const open = async (file: string) => {
    const source = await openFileSource(join(dir, file));
    sources.push(source);
    return source;
  };
  const close = async () => void (await Promise.all(sources.map((s) => s.close())));
  try {
    const sharded = existsSync(index);
    const reader = sharded ? await openShardedCheckpoint(await readJsonFile(index), open, index) : await SafetensorsFile.open(await open('model.safetensors'));
    return { reader, file: sharded ? index : join(dir, 'model.safetensors'), close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A model folder opened for reading one tensor at a time (exports stream through it). */
export interface OpenedModel {
  config: Qwen3Config;
  /** A tensor of qwen3TensorShapes(config), float32. */
  read(name: string): Promise<Float32Array>;
  /** The same as stored, unchecked (for Qwen3Session.load, which converts and checks it in one pass). */
  readStored(name: string): Promise<StoredTensor>;
  /** Rows [begin, end) of a tensor, float32 (exports stream a block of rows at a time). */
  readRows(name: string, begin: number, end: number): Promise<Float32Array>;
  close(): Promise<void>;
}

/**
 * Opens a model folder, checking config.json against the tensors before any is read; a stored
 * LM head in a tied config is resolved as transformers does (resolveTiedHead).
 */
export async function openModel(dir: string, warn: Warn = warnOnStderr): Promise<OpenedModel> {
  const configPath = join(dir, 'config.json');
  let config = parseQwen3Config(await readJsonFile(configPath), configPath);
  const { reader, file, close } = await openCheckpoint(dir);
  try {
    checkCheckpointTensors(config, reader, file);
    const tied = await resolveTiedHead(config, reader, file);
    if (tied.warning) warn(tied.warning);
    config = tied.config;
  } catch (error) {
    await close();
    throw error;
  }
  return { config, read: (name) => reader.read(name), readStored: (name) => reader.readStored(name), readRows: (name, begin, end) => reader.readRows(name, begin, end), close };
}

/**
 * A model folder streamed into a session: each tensor read, converted, uploaded and dropped
 * before the next (Qwen3Session.load), so the host never holds a float32 copy of the model
 * beside the session's own (loadCheckpoint's map is 2.4 GB at Qwen3-0.6B).
 */
export async function loadSession(dir: string, runtime: Runtime, options: Qwen3SessionOptions = {}, warn: Warn = warnOnStderr): Promise<Qwen3Session> {
  const model = await openModel(dir, warn);
  try {
    return await Qwen3Session.load(runtime, model.config, { read: (name) => model.readStored(name) }, options);
  } finally {
    await model.close();
  }
}

/** Every tensor of a model folder in memory (tests and scripts that compare or rewrite weights; sessions use loadSession). */
export async function loadCheckpoint(dir: string, warn: Warn = warnOnStderr): Promise<Qwen3Checkpoint> {
  const model = await openModel(dir, warn);
  try {
    const weights = new Map<string, Float32Array>();
    for (const name of qwen3TensorShapes(model.config).keys()) weights.set(name, await model.read(name));
    return { config: model.config, weights };
  } finally {
    await model.close();
  }
}

export async function loadAdapter(dir: string, config: Qwen3Config): Promise<LoraAdapter> {
  const configPath = join(dir, 'adapter_config.json');
  const configJson = await readJsonFile(configPath);
  const source = await openFileSource(join(dir, 'adapter_model.safetensors'));
  try {
    const weights = await SafetensorsFile.open(source);
    return await readPeftAdapter(configJson, weights, config, source.name, configPath);
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

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json'];

/** The folder whose tokenizer files a model uses: its own, else the bundled Qwen3 one (with a warning naming what is missing). */
function tokenizerDir(dir: string, warn: Warn): string {
  const missing = TOKENIZER_FILES.filter((file) => !existsSync(join(dir, file)));
  if (missing.length === 0) return dir;
  warn(`${dir} has no ${missing.join(' and no ')}: using the bundled Qwen3 tokenizer instead`);
  return bundledTokenizerDir;
}

export async function loadModelTokenizer(dir: string, warn: Warn = warnOnStderr): Promise<Qwen3Tokenizer> {
  const from = tokenizerDir(dir, warn);
  if (from === bundledTokenizerDir) return loadBundledTokenizer();
  // transformers.js reports a broken file without naming it: parse each here first.
  for (const file of TOKENIZER_FILES) await readJsonFile(join(from, file));
  try {
    return await loadTokenizer(from);
  } catch (error) {
    throw new Error(`${dir}: its tokenizer files do not load (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** The parsed tokenizer.json and tokenizer_config.json a model uses (GGUF exports embed them). */
export async function modelTokenizerJson(dir: string, warn: Warn = warnOnStderr): Promise<{ tokenizer: unknown; tokenizerConfig: unknown; file: string }> {
  const from = tokenizerDir(dir, warn);
  const file = join(from, 'tokenizer.json');
  return { tokenizer: await readJsonFile(file), tokenizerConfig: await readJsonFile(join(from, 'tokenizer_config.json')), file };
}
