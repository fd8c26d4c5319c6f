// Writes a seeded tiny sentence-embedding model that transformers.js loads with
// pipeline('feature-extraction') from a local folder (no weights can be downloaded here): the
// real Qwen3 tokenizer, and an ONNX graph built with src/onnx that embeds each token by a
// seeded random bucket (a bag of hashed tokens: texts sharing tokens come out similar).
//   npx tsx scripts/make-tiny-embedder.ts OUT_DIR [--seed N] [--sentence-embedding]
// Layout: config.json (model_type bert → BertModel, an encoder transformers.js feeds
// input_ids and attention_mask), onnx/model.onnx (dtype fp32), tokenizer.json,
// tokenizer_config.json. With --sentence-embedding the graph also outputs `sentence_embedding`
// (masked mean, a seeded projection, L2-normalised), as EmbeddingGemma's export does.
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Graph } from '../src/onnx/index.ts';
import { seededRandom } from '../src/model/random.ts';
import { qwen3TokenizerFiles, qwen3VocabSize } from './make-tiny-model.ts';

export interface TinyEmbedderOptions {
  seed?: number;
  /** Hash buckets tokens fall into. */
  buckets?: number;
  dims?: number;
  sentenceEmbedding?: boolean;
}

export interface TinyEmbedderWeights {
  /** Bucket of each token id. */
  bucketOf: Int32Array;
  /** [buckets, dims] row-major. */
  table: Float32Array;
  /** [dims, dims] row-major; only with sentenceEmbedding. */
  projection: Float32Array | null;
  dims: number;
}

export function tinyEmbedderWeights(options: TinyEmbedderOptions = {}): TinyEmbedderWeights {
  const random = seededRandom(options.seed ?? 0);
  const buckets = options.buckets ?? 4096;
  const dims = options.dims ?? 64;
  const bucketOf = Int32Array.from({ length: qwen3VocabSize }, () => Math.floor(random.uniform() * buckets));
  const table = Float32Array.from({ length: buckets * dims }, () => random.normal());
  const projection = options.sentenceEmbedding ? Float32Array.from({ length: dims * dims }, () => random.normal() / Math.sqrt(dims)) : null;
  return { bucketOf, table, projection, dims };
}

export function tinyEmbedderGraph(w: TinyEmbedderWeights): Uint8Array {
  const g = new Graph('tiny-embedder');
  const ids = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const mask = g.input('attention_mask', 'int64', ['batch_size', 'sequence_length']);
  const buckets = g.gather(g.initializer('bucket_of', w.bucketOf, [w.bucketOf.length]), ids); // [B, T] int32
  const hidden = g.gather(g.initializer('bucket_embeddings', w.table, [w.table.length / w.dims, w.dims]), buckets); // [B, T, D]
  g.output(hidden, 'last_hidden_state');
  if (w.projection) {
    const weight = g.unsqueeze(g.cast(mask, 'float32'), [2]); // [B, T, 1]
    const mean = g.div(g.reduceSum(g.mul(hidden, weight), [1]), g.reduceSum(weight, [1])); // [B, D]
    const projected = g.matMul(mean, g.initializer('projection', w.projection, [w.dims, w.dims])); // [B, D]
    const norm = g.sqrt(g.reduceSum(g.mul(projected, projected), [1], true)); // [B, 1]
    g.output(g.div(projected, norm), 'sentence_embedding');
  }
  return g.toBytes();
}

export async function makeTinyEmbedder(dir: string, options: TinyEmbedderOptions = {}): Promise<TinyEmbedderWeights> {
  const weights = tinyEmbedderWeights(options);
  await mkdir(join(dir, 'onnx'), { recursive: true });
  await writeFile(join(dir, 'onnx', 'model.onnx'), tinyEmbedderGraph(weights));
  const config = { model_type: 'bert', architectures: ['BertModel'], hidden_size: weights.dims, 'transformers.js_config': { dtype: 'fp32' } };
  await writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  await copyFile(qwen3TokenizerFiles.tokenizer, join(dir, 'tokenizer.json'));
  await copyFile(qwen3TokenizerFiles.tokenizerConfig, join(dir, 'tokenizer_config.json'));
  return weights;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const [dir, ...rest] = process.argv.slice(2);
  if (!dir) throw new Error('usage: make-tiny-embedder.ts OUT_DIR [--seed N] [--sentence-embedding]');
  const options: TinyEmbedderOptions = {};
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--seed') options.seed = Number(rest[++i]);
    else if (rest[i] === '--sentence-embedding') options.sentenceEmbedding = true;
    else throw new Error(`unknown argument ${rest[i]}`);
  }
  await makeTinyEmbedder(dir, options);
  console.log(`wrote ${dir}: onnx/model.onnx, config.json, tokenizer`);
}
