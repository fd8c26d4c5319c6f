// Loading a Qwen3 model and PEFT adapters in the browser worker. Hub repos (or a test server
// with the hub's URL layout) and files the user picked go through the same code: a function
// that opens a file of the model folder as a ByteSource, then config → tokenizer → weights read
// tensor by tensor from the safetensors file(s) → GPU.
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { blobSource, type ByteSource } from '../model/byte-source.ts';
import { parseQwen3Config, type Qwen3Config } from '../model/config.ts';
import type { ModelCache } from '../model/hub/cache.ts';
import { download, HubError, readJson } from '../model/hub/download.ts';
import { estimateLoad, type BufferLimits, type SizingConfig } from '../model/hub/estimate.ts';
import { HUB_BASE, hubFile, listBaseModelFiles, SHARD_INDEX } from '../model/hub/resolve.ts';
import { readPeftAdapter, type LoraAdapter } from '../model/peft.ts';
import { openShardedCheckpoint, SafetensorsFile, type TensorReader } from '../model/safetensors.ts';
import { qwen3TensorShapes } from '../model/tensors.ts';
import { EngineError, type EngineEvent, type LoadBudget, type ModelSource } from './protocol.ts';
import type { Runtime } from './runtime.ts';
import { Qwen3Session } from './session.ts';
import { Qwen3Tokenizer } from './tokenizer.ts';

type Progress = (event: Extract<EngineEvent, { type: 'progress' | 'estimate' }>) => void;

/** The files of one model folder, opened on demand. */
interface ModelFolder {
  name: string;
  has(file: string): Promise<boolean>;
  open(file: string): Promise<ByteSource>;
}

export interface LoadedModel {
  name: string;
  config: Qwen3Config;
  tokenizer: Qwen3Tokenizer;
  session: Qwen3Session;
  parameters: number;
}

/**
 * The repo's file names from the hub API (`<base>/api/models/<repo>/revision/<revision>` →
 * `siblings[].rfilename`, served with CORS), or null when the API does not answer with a list
 * (a server without it, offline): the caller then probes instead.
 */
async function apiFileList(source: Extract<ModelSource, { kind: 'hub' }>, signal: AbortSignal): Promise<string[] | null> {
  const base = (source.base ?? HUB_BASE).replace(/\/+$/, '');
  const revision = encodeURIComponent(source.revision ?? 'main');
  try {
    const response = await fetch(`${base}/api/models/${source.repo}/revision/${revision}`, { signal, cache: 'no-store' });
    if (!response.ok) return null;
    const siblings = ((await response.json()) as { siblings?: { rfilename?: unknown }[] }).siblings;
    if (!Array.isArray(siblings)) return null;
    return siblings.map((s) => s.rfilename).filter((name): name is string => typeof name === 'string');
  } catch (error) {
    if (signal.aborted) throw error;
    return null;
  }
}

/**
 * Whether the repo has `file`: the API's list first; without it, what the cache holds complete
 * (so a cached model loads offline) and last the probe of listBaseModelFiles, whose 404 for a
 * single-file model's shard index the browser logs as a console error.
 */
async function repoFiles(source: Extract<ModelSource, { kind: 'hub' }>, cache: ModelCache, signal: AbortSignal): Promise<Set<string>> {
  const listed = await apiFileList(source, signal);
  if (listed) return new Set(listed);
  const revision = source.revision ?? 'main';
  const cached = (await cache.list()).filter((e) => e.repo === source.repo && e.revision === revision && e.complete).map((e) => e.file);
  if (cached.includes(SHARD_INDEX) || cached.includes('model.safetensors')) return new Set(cached);
  const location = { base: source.base, revision: source.revision };
  return new Set((await listBaseModelFiles(source.repo, location, { cache, signal })).map((f) => f.file));
}

function hubFolder(source: Extract<ModelSource, { kind: 'hub' }>, cache: ModelCache, signal: AbortSignal, progress: Progress): ModelFolder {
  const location = { base: source.base, revision: source.revision };
  let listing: Promise<Set<string>> | null = null;
  return {
    name: source.repo,
    async has(file) {
      listing ??= repoFiles(source, cache, signal);
      return (await listing).has(file);
    },
    async open(file) {
      try {
        return await download(hubFile(source.repo, file, location), {
          cache,
          signal,
          onProgress: (p) => progress({ type: 'progress', phase: 'download', file, ...p }),
        });
      } catch (error) {
        if (error instanceof HubError) throw new EngineError('download_failed', error.message);
        throw error;
      }
    },
  };
}

function filesFolder(files: readonly File[], name?: string): ModelFolder {
  // A picked folder gives paths like "Qwen3-0.6B/config.json"; the folder itself does not matter.
  const byName = new Map(files.map((f) => [f.name.split('/').pop()!, f]));
  const folder = name || files[0]?.webkitRelativePath.split('/')[0] || 'local files';
  return {
    name: folder,
    has: async (file) => byName.has(file),
    async open(file) {
      const picked = byName.get(file);
      if (!picked) throw new EngineError('bad_model', `${file} is missing among the picked files (${[...byName.keys()].join(', ')})`);
      return blobSource(picked, file);
    },
  };
}

export function modelFolder(source: ModelSource, cache: ModelCache, signal: AbortSignal, progress: Progress): ModelFolder {
  return source.kind === 'hub' ? hubFolder(source, cache, signal, progress) : filesFolder(source.files, source.name);
}

async function json(folder: ModelFolder, file: string): Promise<unknown> {
  return readJson(await folder.open(file));
}

async function openWeights(folder: ModelFolder): Promise<TensorReader> {
  if (await folder.has(SHARD_INDEX)) {
    return openShardedCheckpoint(await json(folder, SHARD_INDEX), (file) => folder.open(file), `${folder.name}/${SHARD_INDEX}`);
  }
  return SafetensorsFile.open(await folder.open('model.safetensors'));
}

async function loadTokenizer(folder: ModelFolder): Promise<Qwen3Tokenizer> {
  const tokenizerJson = (await json(folder, 'tokenizer.json')) as object;
  const tokenizerConfig = (await json(folder, 'tokenizer_config.json')) as object;
  return new Qwen3Tokenizer(new PreTrainedTokenizer(tokenizerJson, tokenizerConfig));
}

export interface DeviceCaps {
  limits: BufferLimits;
  /** float16 weights halve GPU memory; WGSL needs the shader-f16 feature for them. */
  shaderF16: boolean;
}

// WebGPU tells no device memory size; maxBufferSize is the one figure that scales with it (the
// browser takes it from the driver's largest allocation: Vulkan maxMemoryAllocationSize, Metal
// maxBufferLength), and the device holds at least that much. Weights plus a 1k-token KV cache
// are allowed up to four such buffers: a bigger model would leave nothing for ORT's activations
// and pool on a device that size, and fail mid-upload instead of here.
export const BUDGET_BUFFERS = 4;

/**
 * What `raw` (config.json) takes on a device with `limits`, and why it cannot load (null: it can).
 * Refuses a tensor over the binding limit that cannot be split (the vocabulary is cut into chunks)
 * and a total over the budget.
 */
export function loadBudget(raw: SizingConfig, dtype: 'f32' | 'f16', limits: BufferLimits): { budget: LoadBudget; refusal: string | null } {
  const estimate = estimateLoad(raw, dtype, limits);
  const budget: LoadBudget = {
    weightBytes: estimate.totalBytes,
    kvCacheBytesPer1kTokens: estimate.kvCacheBytesPer1kTokens,
    budgetBytes: BUDGET_BUFFERS * limits.maxBufferSize,
    dtype,
    vocabChunks: estimate.vocabChunks,
    largestTensor: estimate.largestTensor,
    limits: { maxBufferSize: limits.maxBufferSize, maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize },
  };
  const needed = budget.weightBytes + budget.kvCacheBytesPer1kTokens;
  const refusal =
    estimate.refusal ??
    (needed > budget.budgetBytes
      ? `weights (${budget.weightBytes} bytes in ${dtype}) and a 1,024-token KV cache (${budget.kvCacheBytesPer1kTokens} bytes) ` +
        `need ${needed} bytes, over this GPU's budget of ${budget.budgetBytes} bytes (${BUDGET_BUFFERS} × maxBufferSize ${limits.maxBufferSize})`
      : null);
  return { budget, refusal };
}

/** Loads config, tokenizer and weights; refuses before the weights download when the model cannot fit the GPU. */
export async function loadModel(folder: ModelFolder, runtime: Runtime, options: DeviceCaps, progress: Progress): Promise<LoadedModel> {
  const raw = await json(folder, 'config.json');
  const config = parseQwen3Config(raw, `${folder.name}/config.json`);
  const weightDtype = options.shaderF16 ? 'float16' : 'float32';
  const { budget, refusal } = loadBudget(raw as SizingConfig, weightDtype === 'float16' ? 'f16' : 'f32', options.limits);
  progress({ type: 'estimate', budget });
  if (refusal) throw new EngineError('too_large', `${folder.name} cannot run on this GPU: ${refusal}`);
  const tokenizer = await loadTokenizer(folder);
  const reader = await openWeights(folder);
  const shapes = qwen3TensorShapes(config);
  for (const [name, shape] of shapes) {
    const stored = reader.info(name).shape;
    if (stored.join(',') !== shape.join(',')) {
      throw new EngineError('bad_model', `${folder.name}: tensor ${name} is [${stored.join(', ')}], config.json implies [${shape.join(', ')}]`);
    }
  }
  let loaded = 0;
  // Qwen3Session.load reads, converts and uploads one tensor at a time: the host never holds the model.
  const tensors = {
    async read(name: string): Promise<Float32Array> {
      const data = await reader.read(name);
      progress({ type: 'progress', phase: 'weights', file: name, loaded: ++loaded, total: shapes.size });
      if (loaded === shapes.size) progress({ type: 'progress', phase: 'compile', loaded: 0, total: null });
      return data;
    },
  };
  const maxBindingBytes = Math.min(options.limits.maxBufferSize, options.limits.maxStorageBufferBindingSize);
  const session = await Qwen3Session.load(runtime, config, tensors, { maxBindingBytes, weightDtype });
  const parameters = [...shapes.values()].reduce((sum, dims) => sum + dims.reduce((a, d) => a * d, 1), 0);
  return { name: folder.name, config, tokenizer, session, parameters };
}

export async function loadAdapter(
  source: ModelSource,
  config: Qwen3Config,
  cache: ModelCache,
  signal: AbortSignal,
  progress: Progress,
): Promise<{ name: string; adapter: LoraAdapter }> {
  const folder = modelFolder(source, cache, signal, progress);
  const configJson = await json(folder, 'adapter_config.json');
  const weights = await SafetensorsFile.open(await folder.open('adapter_model.safetensors'));
  progress({ type: 'progress', phase: 'adapter', loaded: 0, total: null });
  try {
    return { name: folder.name, adapter: await readPeftAdapter(configJson, weights, config, `${folder.name}/adapter_model.safetensors`) };
  } catch (error) {
    throw new EngineError('unsupported_adapter', `${folder.name} does not fit the loaded model: ${(error as Error).message}`);
  }
}
