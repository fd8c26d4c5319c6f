// Exports a Qwen3 model folder (config.json + safetensors) as a folder transformers.js loads
// with AutoModelForCausalLM (dtype 'fp32' → onnx/model.onnx): the reference engine for the
// generation benchmark (bench/generate).
//   npx tsx scripts/export-transformersjs.ts MODEL_DIR OUT_DIR [--max-positions 4096]
import { existsSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadCheckpoint } from '../src/engine/model-dir.ts';
import {
  buildTransformersDecoder,
  transformersConfigJson,
  transformersGenerationConfigJson,
  type TransformersExportOptions,
} from '../src/model/qwen3/export-transformers.ts';
import { qwen3TokenizerFiles } from './make-tiny-model.ts';

/** ONNX protobuf cannot hold more than 2 GiB in one file; larger models would need external data. */
const PROTOBUF_LIMIT = 2 ** 31 - 1;

export async function exportTransformersModel(modelDir: string, outDir: string, options: TransformersExportOptions = {}): Promise<{ onnxBytes: number }> {
  const { config, weights } = await loadCheckpoint(modelDir);
  const onnx = buildTransformersDecoder(config, weights, options);
  if (onnx.byteLength > PROTOBUF_LIMIT) {
    throw new Error(`export-transformersjs: ${modelDir} gives a ${onnx.byteLength}-byte graph, over ONNX's 2 GiB single-file limit`);
  }
  await mkdir(join(outDir, 'onnx'), { recursive: true });
  await writeFile(join(outDir, 'onnx', 'model.onnx'), onnx);
  await writeFile(join(outDir, 'config.json'), JSON.stringify(transformersConfigJson(config, options), null, 2) + '\n');
  await writeFile(join(outDir, 'generation_config.json'), JSON.stringify(transformersGenerationConfigJson(config), null, 2) + '\n');
  const own = (file: string) => (existsSync(join(modelDir, file)) ? join(modelDir, file) : null);
  await copyFile(own('tokenizer.json') ?? qwen3TokenizerFiles.tokenizer, join(outDir, 'tokenizer.json'));
  await copyFile(own('tokenizer_config.json') ?? qwen3TokenizerFiles.tokenizerConfig, join(outDir, 'tokenizer_config.json'));
  return { onnxBytes: onnx.byteLength };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const [modelDir, outDir, ...rest] = process.argv.slice(2);
  if (!modelDir || !outDir) throw new Error('usage: export-transformersjs.ts MODEL_DIR OUT_DIR [--max-positions N]');
  const options: TransformersExportOptions = {};
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] !== '--max-positions') throw new Error(`unknown argument ${rest[i]}`);
    const value = Number(rest[++i]);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--max-positions needs a positive integer, got ${rest[i]}`);
    options.maxPositions = value;
  }
  const { onnxBytes } = await exportTransformersModel(modelDir, outDir, options);
  console.log(`wrote ${outDir}: onnx/model.onnx (${(onnxBytes / 2 ** 20).toFixed(1)} MiB), config.json, generation_config.json, tokenizer`);
}
