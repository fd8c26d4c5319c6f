// Exports a Qwen3 model folder (config.json + safetensors) as a folder transformers.js loads
// with AutoModelForCausalLM, one ONNX file per `dtype` asked: fp32 → onnx/model.onnx (our plain
// graph), q4 → onnx/model_q4.onnx and q4f16 → onnx/model_q4f16.onnx (the onnx-community layout:
// contrib ops, 4-bit MatMulNBits). The reference engines of the generation benchmark (bench/generate).
//   npx tsx scripts/export-transformersjs.ts MODEL_DIR OUT_DIR [--dtype fp32,q4,q4f16] [--max-positions 4096]
import { existsSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadCheckpoint } from '../src/engine/model-dir.ts';
import { buildTransformersFusedDecoder } from '../src/model/qwen3/export-transformers-fused.ts';
import {
  buildTransformersDecoder,
  isTjsDtype,
  tjsModelFiles,
  transformersConfigJson,
  transformersGenerationConfigJson,
  type TjsDtype,
  type TransformersExportOptions,
} from '../src/model/qwen3/export-transformers.ts';
import { qwen3TokenizerFiles } from './make-tiny-model.ts';

/** ONNX protobuf cannot hold more than 2 GiB in one file; larger models would need external data. */
const PROTOBUF_LIMIT = 2 ** 31 - 1;

export interface ExportOptions extends TransformersExportOptions {
  /** The files to write (default fp32 alone); the first is config.json's default dtype. */
  dtypes?: readonly TjsDtype[];
}

/** Writes the folder; returns each ONNX file's size by dtype. */
export async function exportTransformersModel(modelDir: string, outDir: string, options: ExportOptions = {}): Promise<Partial<Record<TjsDtype, number>>> {
  const dtypes = options.dtypes ?? ['fp32'];
  if (dtypes.length === 0) throw new Error('export-transformersjs: no dtype to export');
  const { config, weights } = await loadCheckpoint(modelDir);
  await mkdir(join(outDir, 'onnx'), { recursive: true });
  const sizes: Partial<Record<TjsDtype, number>> = {};
  for (const dtype of dtypes) {
    const onnx = dtype === 'fp32' ? buildTransformersDecoder(config, weights, options) : buildTransformersFusedDecoder(config, weights, dtype === 'q4' ? 'float32' : 'float16', options);
    if (onnx.byteLength > PROTOBUF_LIMIT) {
      throw new Error(`export-transformersjs: ${modelDir} gives a ${onnx.byteLength}-byte ${dtype} graph, over ONNX's 2 GiB single-file limit`);
    }
    await writeFile(join(outDir, 'onnx', tjsModelFiles[dtype]), onnx);
    sizes[dtype] = onnx.byteLength;
  }
  await writeFile(join(outDir, 'config.json'), JSON.stringify(transformersConfigJson(config, options, dtypes[0]), null, 2) + '\n');
  await writeFile(join(outDir, 'generation_config.json'), JSON.stringify(transformersGenerationConfigJson(config), null, 2) + '\n');
  const own = (file: string) => (existsSync(join(modelDir, file)) ? join(modelDir, file) : null);
  await copyFile(own('tokenizer.json') ?? qwen3TokenizerFiles.tokenizer, join(outDir, 'tokenizer.json'));
  await copyFile(own('tokenizer_config.json') ?? qwen3TokenizerFiles.tokenizerConfig, join(outDir, 'tokenizer_config.json'));
  return sizes;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const [modelDir, outDir, ...rest] = process.argv.slice(2);
  if (!modelDir || !outDir) throw new Error('usage: export-transformersjs.ts MODEL_DIR OUT_DIR [--dtype fp32,q4,q4f16] [--max-positions N]');
  const options: ExportOptions = {};
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--max-positions') {
      const value = Number(rest[++i]);
      if (!Number.isInteger(value) || value < 1) throw new Error(`--max-positions needs a positive integer, got ${rest[i]}`);
      options.maxPositions = value;
    } else if (rest[i] === '--dtype') {
      const list = (rest[++i] ?? '').split(',');
      const bad = list.find((d) => !isTjsDtype(d));
      if (bad !== undefined) throw new Error(`--dtype: '${bad}' is not one of ${Object.keys(tjsModelFiles).join(', ')}`);
      options.dtypes = list as TjsDtype[];
    } else throw new Error(`unknown argument ${rest[i]}`);
  }
  const sizes = await exportTransformersModel(modelDir, outDir, options);
  const files = Object.entries(sizes).map(([dtype, bytes]) => `onnx/${tjsModelFiles[dtype as TjsDtype]} (${(bytes / 2 ** 20).toFixed(1)} MiB)`);
  console.log(`wrote ${outDir}: ${files.join(', ')}, config.json, generation_config.json, tokenizer`);
}
