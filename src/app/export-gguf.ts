// GGUF exports from the page, for QMD and llama.cpp: the loaded base model merged with a stored adapter
// (f32, f16, Q8_0), or the adapter alone as a GGUF LoRA — the same bytes `qmd export` writes for the same
// base and adapter. Streamed: base tensors are read a block of rows at a time (gguf.ts GGUF_BLOCK_VALUES)
// from the download cache (a hub repo) or the picked files, merged, encoded and handed to a sink
// (export-file.ts: a file the user picked, or one in the origin private file system that is then
// downloaded from disk): never the whole model, nor a whole tensor, in memory.
// The page runs this in the export worker (export-job.ts); this module knows nothing of workers or the DOM.
import { fileStem } from './download.ts';
import type { ModelSource } from '../engine/protocol.ts';
import { blobSource, bytesSource, type ByteSource } from '../model/byte-source.ts';
import { parseQwen3Config, type Qwen3Config } from '../model/config.ts';
import { GGUF_BLOCK_VALUES, ggufDtypes, ggufSize, loraGguf, qmdGenerateLine, qwen3GgufParts, writeGguf, type GgufDtype, type GgufMetadata, type TensorRows } from '../model/gguf.ts';
import { qwen3TokenizerMetadata } from '../model/gguf-tokenizer.ts';
import { keyName, type CacheKey, type ModelCache } from '../model/hub/cache.ts';
import { readJson } from '../model/hub/download.ts';
import { SHARD_INDEX } from '../model/hub/resolve.ts';
import { mergedRows } from '../model/merge.ts';
import { readPeftAdapter, type LoraAdapter } from '../model/peft.ts';
import { openShardedCheckpoint, SafetensorsFile, type TensorRowReader } from '../model/safetensors.ts';
import { checkCheckpointTensors, resolveTiedHead } from '../model/tensors.ts';

export type GgufExportKind = GgufDtype | 'lora';

export const ggufExportKinds: Record<GgufExportKind, string> = {
  f32: 'merged model, f32',
  f16: 'merged model, f16',
  q8_0: 'merged model, Q8_0',
  lora: 'GGUF LoRA adapter (for a GGUF of the base)',
};

/** The files of the loaded base model, opened for reading piece by piece. */
export interface BaseModelFiles {
  name: string;
  has(file: string): Promise<boolean>;
  open(file: string): Promise<ByteSource>;
}

/**
 * A hub repo's files from the download cache (read from disk, never fetched again: the export is of what
 * was loaded), or the files the user picked.
 */
export function baseModelFiles(source: ModelSource, cache: ModelCache): BaseModelFiles {
  if (source.kind === 'files') {
    // A picked folder gives paths like "Qwen3-0.6B/config.json"; the folder itself does not matter.
    const byName = new Map(source.files.map((f) => [f.name.split('/').pop()!, f]));
    const name = source.name || source.files[0]?.webkitRelativePath.split('/')[0] || 'local files';
    return {
      name,
      has: async (file) => byName.has(file),
      async open(file) {
        const picked = byName.get(file);
        if (!picked) throw new Error(`${name}: ${file} is not among the picked files (${[...byName.keys()].join(', ')})`);
        return blobSource(picked, `${name}/${file}`);
      },
    };
  }
  const key = (file: string): CacheKey => ({ repo: source.repo, revision: source.revision ?? 'main', file });
  return {
    name: source.repo,
    has: (file) => cache.has(key(file)),
    async open(file) {
      const stored = await cache.get(key(file));
      if (!stored) throw new Error(`${keyName(key(file))} is not in this browser's download cache: load ${source.repo} again, then export`);
      return stored;
    },
  };
}

/** What a merged export reads of the base: its config, tensors a block of rows at a time, and its tokenizer as GGUF metadata. */
export interface ExportBase {
  config: Qwen3Config;
  readRows: TensorRows;
  tokenizerMetadata(): Promise<GgufMetadata>;
}

const json = async (files: BaseModelFiles, file: string) => readJson(await files.open(file));

/** Opens the base as `qmd export` does (openModel): config checked against the tensors, a stored tied head resolved. */
export async function openExportBase(files: BaseModelFiles): Promise<ExportBase> {
  let config = parseQwen3Config(await json(files, 'config.json'), `${files.name}/config.json`);
  const reader: TensorRowReader = (await files.has(SHARD_INDEX))
    ? await openShardedCheckpoint(await json(files, SHARD_INDEX), (file) => files.open(file), `${files.name}/${SHARD_INDEX}`)
    : await SafetensorsFile.open(await files.open('model.safetensors'));
  checkCheckpointTensors(config, reader, files.name);
  config = (await resolveTiedHead(config, reader, files.name)).config;
  return {
    config,
    readRows: (name, begin, end) => reader.readRows(name, begin, end),
    tokenizerMetadata: async () =>
      qwen3TokenizerMetadata(await json(files, 'tokenizer.json'), await json(files, 'tokenizer_config.json'), config, `${files.name}/tokenizer.json`),
  };
}

/** A stored adapter's two PEFT files and its name. */
export interface ExportAdapter {
  name: string;
  config: Uint8Array;
  weights: Uint8Array;
}

export async function parseExportAdapter(adapter: ExportAdapter, model: Qwen3Config): Promise<LoraAdapter> {
  const configFile = `${adapter.name}/adapter_config.json`;
  const weightsFile = `${adapter.name}/adapter_model.safetensors`;
  const config = await readJson(bytesSource(adapter.config, configFile));
  return readPeftAdapter(config, await SafetensorsFile.open(bytesSource(adapter.weights, weightsFile)), model, weightsFile, configFile);
}

/** Where an export's bytes go, in order; close when all are written, abort to discard them. */
export interface GgufSink {
  write(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

export interface GgufExportPlan {
  kind: GgufExportKind;
  fileName: string;
  /** Bytes of the file, known before any tensor is read. */
  size: number;
  write(sink: (bytes: Uint8Array) => Promise<void>): Promise<number>;
}

/** `my-lora-q8_0.gguf`, `my-lora-lora.gguf`. */
export const exportFileName = (name: string, kind: GgufExportKind): string => `${fileStem(name)}-${kind}.gguf`;

/**
 * The file to write: the adapter alone (small, encoded in memory), or the base with the adapter merged
 * in, named in general.name after the adapter as `qmd export` names it (after the adapter's folder).
 * `blockValues`: values per block of rows (gguf.ts writeGguf; tests make a tiny model's blocks small).
 */
export async function planGgufExport(kind: GgufExportKind, base: ExportBase, adapter: ExportAdapter, blockValues = GGUF_BLOCK_VALUES): Promise<GgufExportPlan> {
  const lora = await parseExportAdapter(adapter, base.config);
  const fileName = exportFileName(adapter.name, kind);
  if (kind === 'lora') {
    const bytes = loraGguf(lora, base.config);
    return { kind, fileName, size: bytes.byteLength, write: async (sink) => (await sink(bytes), bytes.byteLength) };
  }
  const { metadata, tensors } = qwen3GgufParts(base.config, mergedRows(base.readRows, lora, base.config), await base.tokenizerMetadata(), {
    type: ggufDtypes[kind],
    name: adapter.name,
  });
  return { kind, fileName, size: ggufSize(metadata, tensors), write: (sink) => writeGguf(sink, metadata, tensors, blockValues) };
}

export interface ExportProgress {
  written: number;
  total: number;
  seconds: number;
  /** null until a first tensor's worth of bytes gives a pace. */
  etaSeconds: number | null;
}

export interface RunOptions {
  signal?: AbortSignal;
  onProgress?: (progress: ExportProgress) => void;
  /** Milliseconds; performance.now() unless a test passes a clock. */
  now?: () => number;
}

/**
 * Writes the plan to the sink, reporting bytes and an ETA after each write; a cancel (the signal) stops
 * before the next write, and then, or on any error, the sink is aborted so no partial file is kept.
 */
export async function runGgufExport(plan: GgufExportPlan, sink: GgufSink, options: RunOptions = {}): Promise<number> {
  const now = options.now ?? (() => performance.now());
  const start = now();
  let written = 0;
  try {
    const size = await plan.write(async (bytes) => {
      options.signal?.throwIfAborted();
      await sink.write(bytes);
      written += bytes.byteLength;
      const seconds = (now() - start) / 1000;
      const etaSeconds = written > 0 && seconds > 0 ? (seconds / written) * (plan.size - written) : null;
      options.onProgress?.({ written, total: plan.size, seconds, etaSeconds });
    });
    options.signal?.throwIfAborted();
    if (size !== written) throw new Error(`${plan.fileName}: wrote ${written} bytes, the header promised ${size}`);
    await sink.close();
    return written;
  } catch (error) {
    await sink.abort();
    throw error;
  }
}

/** The one line a user needs to run the export in QMD; null for a LoRA adapter, which QMD does not load on its own. */
export function qmdUsage(plan: Pick<GgufExportPlan, 'kind' | 'fileName'>, path = `/path/to/${plan.fileName}`): string | null {
  return plan.kind === 'lora' ? null : qmdGenerateLine(path);
}
