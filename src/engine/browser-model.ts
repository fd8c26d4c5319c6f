// Loading a Qwen3 model and PEFT adapters in the browser worker. Hub repos (or a test server
// with the hub's URL layout) and files the user picked go through the same code: a function
// that opens a file of the model folder as a ByteSource, then config → tokenizer → weights read
// tensor by tensor from the safetensors file(s) → GPU.
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { blobSource, type ByteSource } from '../model/byte-source.ts';
import { parseQwen3Config, type Qwen3Config } from '../model/config.ts';
import type { ModelCache } from '../model/hub/cache.ts';
import { fetchFile, HubError, readJson } from '../model/hub/download.ts';
import { estimateLoad, layoutDtype, type BufferLimits, type LoadDtype } from '../model/hub/estimate.ts';
import { fetchListing, type RepoListing } from '../model/hub/listing.ts';
import { ADAPTER_FILES, hubFile, listBaseModelFiles, SHARD_INDEX } from '../model/hub/resolve.ts';
import { readPeftAdapter, type LoraAdapter } from '../model/peft.ts';
import { openShardedCheckpoint, SafetensorsFile, type TensorReader } from '../model/safetensors.ts';
import { checkCheckpointTensors, qwen3TensorShapes, resolveTiedHead } from '../model/tensors.ts';
import { isQ4Layout, weightLayout } from '../model/qwen3/layout.ts';
import { EngineError, type EngineEvent, type LoadBudget, type ModelSource, type WeightsFrom } from './protocol.ts';
import { openQ4Copy, recordQ4Copy, type CopyPlace } from './q4-copy.ts';
import type { Runtime } from './runtime.ts';
import { Qwen3Session } from './session.ts';
import { Qwen3Tokenizer } from './tokenizer.ts';
import { weightInputs, type InputSource } from './weight-source.ts';

type Progress = (event: Extract<EngineEvent, { type: 'progress' | 'estimate' }>) => void;

const [ADAPTER_CONFIG, ADAPTER_WEIGHTS] = ADAPTER_FILES as [string, string];

/** The files of one model folder, opened on demand. */
interface ModelFolder {
  name: string;
  has(file: string): Promise<boolean>;
  open(file: string): Promise<ByteSource>;
  /**
   * What to report when `file`, opened before, does not parse: for a copy that came from the
   * download cache, an error naming it as damaged (the UI offers to delete it and fetch it again);
   * null for a fresh download or a picked file, whose error is the model's.
   */
  damaged(file: string, error: unknown): EngineError | null;
  /** Where a 4-bit copy of this model made from `files` is kept (q4-copy.ts); null for picked files, which have no cache folder. */
  copyPlace(files: readonly string[]): Promise<CopyPlace> | null;
}

export interface LoadedModel {
  name: string;
  config: Qwen3Config;
  tokenizer: Qwen3Tokenizer;
  session: Qwen3Session;
  parameters: number;
  /** What the load decided on the user's behalf (e.g. an untied LM head). */
  warnings: string[];
  /** The checkpoint, or the 4-bit copy a previous q4 load kept in this browser (q4-copy.ts). */
  weightsFrom: WeightsFrom;
}

/**
 * Whether the repo has `file`: the hub's listing first; without it, what the cache holds complete
 * (so a cached model loads offline) and last the probe of listBaseModelFiles, whose 404 for a
 * single-file model's shard index the browser logs as a console error.
 */
async function repoFiles(
  source: Extract<ModelSource, { kind: 'hub' }>,
  listing: RepoListing | null,
  cache: ModelCache,
  signal: AbortSignal,
): Promise<Set<string>> {
  if (listing) return new Set(listing.keys());
  const revision = source.revision ?? 'main';
  const cached = (await cache.list()).filter((e) => e.repo === source.repo && e.revision === revision && e.complete).map((e) => e.file);
  if (cached.includes(SHARD_INDEX) || cached.includes('model.safetensors')) return new Set(cached);
  const location = { base: source.base, revision: source.revision };
  return new Set((await listBaseModelFiles(source.repo, location, { cache, signal })).map((f) => f.file));
}

// The listing is fetched once per load, before the first file: each file is then checked against
// it (download.ts), and a file it lacks fails at once.
function hubFolder(source: Extract<ModelSource, { kind: 'hub' }>, cache: ModelCache, signal: AbortSignal, progress: Progress): ModelFolder {
  const location = { base: source.base, revision: source.revision };
  let listing: Promise<RepoListing | null> | null = null;
  const listed = () => (listing ??= fetchListing(source.repo, location, signal));
  let files: Promise<Set<string>> | null = null;
  const fromCache = new Set<string>();
  return {
    name: source.repo,
    async has(file) {
      files ??= listed().then((l) => repoFiles(source, l, cache, signal));
      return (await files).has(file);
    },
    async open(file) {
      const current = await listed();
      const expected = current?.get(file) ?? null;
      if (current && !expected) throw new EngineError('download_failed', `file not found in repo ${source.repo}: ${file}`);
      try {
        const fetched = await fetchFile(hubFile(source.repo, file, location), {
          cache,
          signal,
          expected,
          onProgress: (p) => progress({ type: 'progress', phase: 'download', file, ...p }),
        });
        if (fetched.cached) fromCache.add(file);
        return fetched.source;
      } catch (error) {
        if (error instanceof HubError) throw new EngineError('download_failed', error.message);
        throw error;
      }
    },
    damaged(file, error) {
      if (!fromCache.has(file)) return null;
      const reason = error instanceof Error ? error.message : String(error);
      const message = `${source.repo}/${file}: the copy kept in this browser is damaged (${reason}); delete it and download it again`;
      return new EngineError('corrupt_file', message, [{ repo: source.repo, revision: source.revision ?? 'main', file }]);
    },
    async copyPlace(files) {
      const revision = source.revision ?? 'main';
      const ids = await Promise.all(
        files.map(async (file) => {
          const stored = await cache.stat({ repo: source.repo, revision, file });
          return `${file}=${stored?.oid ?? stored?.etag ?? stored?.size}`;
        }),
      );
      return { cache, repo: source.repo, revision, source: ids.join(',') };
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
    damaged: () => null,
    copyPlace: () => null,
  };
}

export function modelFolder(source: ModelSource, cache: ModelCache, signal: AbortSignal, progress: Progress): ModelFolder {
  return source.kind === 'hub' ? hubFolder(source, cache, signal, progress) : filesFolder(source.files, source.name);
}

/** `parse` of the file's bytes; its failure on a copy from the download cache is reported as a damaged file. */
async function parsed<T>(folder: ModelFolder, file: string, parse: (source: ByteSource) => Promise<T>): Promise<T> {
  const source = await folder.open(file);
  try {
    return await parse(source);
  } catch (error) {
    throw folder.damaged(file, error) ?? error;
  }
}

const json = (folder: ModelFolder, file: string): Promise<unknown> => parsed(folder, file, readJson);

/** The checkpoint's reader and the files it reads. */
async function openWeights(folder: ModelFolder): Promise<{ reader: TensorReader; files: string[] }> {
  if (await folder.has(SHARD_INDEX)) {
    // Each shard's header is checked here first, so that a damaged shard is named; openShardedCheckpoint
    // then reads the header again (kilobytes, not the weights).
    const files: string[] = [];
    const shard = (file: string) => parsed(folder, file, async (source) => (await SafetensorsFile.open(source), files.push(file), source));
    return { reader: await openShardedCheckpoint(await json(folder, SHARD_INDEX), shard, `${folder.name}/${SHARD_INDEX}`), files };
  }
  return { reader: await parsed(folder, 'model.safetensors', (source) => SafetensorsFile.open(source)), files: ['model.safetensors'] };
}

/** Refuses a folder of the other kind with where to load it, before "file not found" could say it less clearly. */
async function checkKind(folder: ModelFolder, wanted: 'model' | 'adapter'): Promise<void> {
  const [own, other] = wanted === 'model' ? (['config.json', ADAPTER_CONFIG] as const) : ([ADAPTER_CONFIG, 'config.json'] as const);
  if ((await folder.has(own)) || !(await folder.has(other))) return;
  throw new EngineError(
    'bad_model',
    wanted === 'model'
      ? `${folder.name} is a LoRA adapter (it has ${ADAPTER_CONFIG}, no config.json): load its base model here, then load ${folder.name} under Adapters`
      : `${folder.name} is a full model (it has config.json, no ${ADAPTER_CONFIG}), not a LoRA adapter: load it as the base model`,
  );
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
  /** The layout asked for (default f16); f16 without shader-f16 loads f32, q4f16 loads q4 (loadDtype). */
  weights?: LoadDtype;
}

/**
 * The layout a load uses: the one asked for, except on a GPU without shader-f16 f16, which loads
 * f32 (what the page did before it offered a choice), and q4f16, which loads q4. q4 needs no shader
 * feature: MatMulNBits and GatherBlockQuantized unpack the codes with u32 arithmetic and compute in float32.
 */
export const loadDtype = (asked: LoadDtype, shaderF16: boolean): LoadDtype => (shaderF16 ? asked : asked === 'f16' ? 'f32' : asked === 'q4f16' ? 'q4' : asked);

// WebGPU tells no device memory size; maxBufferSize is the one figure that scales with it (the
// browser takes it from the driver's largest allocation: Vulkan maxMemoryAllocationSize, Metal
// maxBufferLength), and the device holds at least that much. Weights plus a 1k-token KV cache
// are allowed up to four such buffers: a bigger model would leave nothing for ORT's activations
// and pool on a device that size, and fail mid-upload instead of here.
export const BUDGET_BUFFERS = 4;

/**
 * What `config` takes on a device with `limits`, and why it cannot load (null: it can).
 * Refuses a tensor over the binding limit that cannot be split (the vocabulary is cut into chunks)
 * and a total over the budget.
 */
export function loadBudget(config: Qwen3Config, dtype: LoadDtype, limits: BufferLimits): { budget: LoadBudget; refusal: string | null } {
  const estimate = estimateLoad(config, dtype, limits);
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
  await checkKind(folder, 'model');
  const raw = await json(folder, 'config.json');
  let config = parseQwen3Config(raw, `${folder.name}/config.json`);
  const dtype = loadDtype(options.weights ?? 'f16', options.shaderF16);
  const { budget, refusal } = loadBudget(config, dtype, options.limits);
  progress({ type: 'estimate', budget });
  if (refusal) throw new EngineError('too_large', `${folder.name} cannot run on this GPU: ${refusal}`);
  const tokenizer = await loadTokenizer(folder);
  const { reader, files } = await openWeights(folder);
  try {
    checkCheckpointTensors(config, reader, folder.name);
  } catch (error) {
    throw new EngineError('bad_model', (error as Error).message);
  }
  const tied = await resolveTiedHead(config, reader, folder.name);
  config = tied.config;
  const shapes = qwen3TensorShapes(config);
  const layoutOptions = { maxBindingBytes: Math.min(options.limits.maxBufferSize, options.limits.maxStorageBufferBindingSize), weightDtype: layoutDtype[dtype] };
  const layout = weightLayout(config, layoutOptions);
  const checkpoint = weightInputs(config, layout, { read: (name) => reader.readStored(name) });
  const place = isQ4Layout(layout.dtype) ? await folder.copyPlace(files) : null;
  const kept = place && (await openQ4Copy(place, config, layout));
  const copy = place && !kept ? recordQ4Copy(place, config, layout, checkpoint) : null;
  let loaded = 0;
  // Qwen3Session.load reads, converts and uploads one tensor at a time: the host never holds the model.
  const source = kept ?? copy?.source ?? checkpoint;
  const weights: InputSource = {
    async *inputs(name) {
      yield* source.inputs(name);
      progress({ type: 'progress', phase: 'weights', file: name, loaded: ++loaded, total: shapes.size });
      if (loaded === shapes.size) progress({ type: 'progress', phase: 'compile', loaded: 0, total: null });
    },
  };
  let session: Qwen3Session;
  try {
    session = await Qwen3Session.load(runtime, config, weights, layoutOptions);
  } catch (error) {
    await copy?.abandon();
    throw error;
  }
  const dropped = await copy?.finish();
  const warnings = [tied.warning, dropped && `the 4-bit weights could not be kept in this browser for the next load (${dropped}); this load is not affected`];
  const parameters = [...shapes.values()].reduce((sum, dims) => sum + dims.reduce((a, d) => a * d, 1), 0);
  const weightsFrom = kept ? 'q4-copy' : 'checkpoint';
  return { name: folder.name, config, tokenizer, session, parameters, weightsFrom, warnings: warnings.filter((w): w is string => !!w) };
}

export async function loadAdapter(
  source: ModelSource,
  config: Qwen3Config,
  cache: ModelCache,
  signal: AbortSignal,
  progress: Progress,
): Promise<{ name: string; adapter: LoraAdapter }> {
  const folder = modelFolder(source, cache, signal, progress);
  await checkKind(folder, 'adapter');
  const configJson = await json(folder, ADAPTER_CONFIG);
  const weights = await parsed(folder, ADAPTER_WEIGHTS, (bytes) => SafetensorsFile.open(bytes));
  progress({ type: 'progress', phase: 'adapter', loaded: 0, total: null });
  try {
    return { name: folder.name, adapter: await readPeftAdapter(configJson, weights, config, `${folder.name}/${ADAPTER_WEIGHTS}`) };
  } catch (error) {
    throw new EngineError('unsupported_adapter', `${folder.name} does not fit the loaded model: ${(error as Error).message}`);
  }
}
