// The worker's hub path on onnxruntime-node: a tiny Qwen3 and its adapter served by LocalHub,
// files kept in a MemoryCache. A copy in the cache is checked against the hub's listing; one that
// does not parse is reported as damaged with its cache key; a repo of the other kind is named.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeTinyModel } from '../../scripts/make-tiny-model.ts';
import { MemoryCache } from '../model/hub/cache.ts';
import { LocalHub } from '../model/hub/local-hub.ts';
import { loadAdapter, loadModel, modelFolder } from './browser-model.ts';
import { EngineError, type ModelSource } from './protocol.ts';
import { nodeRuntime } from './runtime-node.ts';

const BASE = 'test/tiny-qwen3';
const LORA = 'test/tiny-lora';
const caps = { limits: { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 30 }, shaderF16: false };
const weightsKey = { repo: BASE, revision: 'main', file: 'model.safetensors' };

let dir: string;
let hub: LocalHub;
let weights: Uint8Array;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qmd-browser-model-'));
  await makeTinyModel(join(dir, 'base'), { seed: 3, hidden: 32, layers: 1, adapter: { dir: join(dir, 'lora'), rank: 2 } });
  hub = await LocalHub.start();
  for (const [repo, folder] of [[BASE, 'base'], [LORA, 'lora']] as const) {
    for (const file of await readdir(join(dir, folder))) hub.put(repo, file, await readFile(join(dir, folder, file)));
  }
  weights = await readFile(join(dir, 'base', 'model.safetensors'));
});

afterAll(async () => {
  await hub?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  hub.requests.length = 0;
});

const source = (repo: string, base = hub.base): ModelSource => ({ kind: 'hub', repo, base });
const fileRequests = () => hub.requests.filter((r) => !r.path.startsWith('/api/')).map((r) => r.path.split('/').pop());

async function load(cache: MemoryCache, repo = BASE, base = hub.base) {
  const model = await loadModel(modelFolder(source(repo, base), cache, new AbortController().signal, () => {}), nodeRuntime, caps, () => {});
  await model.session.release();
  return model;
}

const failure = (work: Promise<unknown>) => work.then(() => null, (error: unknown) => error as EngineError);

describe('loading from the hub with a download cache', () => {
  it('downloads once, then loads from the cache with only the listing asked', async () => {
    const cache = new MemoryCache();
    await load(cache);
    expect(fileRequests().sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    hub.requests.length = 0;
    await load(cache);
    expect(hub.requests.map((r) => r.path)).toEqual([`/api/models/${BASE}/revision/main?blobs=true`]);
  });

  it('offline, a short copy kept as complete fails to parse and is named as damaged; online it is replaced', async () => {
    const cache = new MemoryCache();
    await load(cache);
    // What an earlier version could leave: the first 20,000 bytes stored as if they were the whole file.
    const short = await cache.write(weightsKey, { size: 20_000, etag: null, oid: null }, 0);
    await short.append(weights.subarray(0, 20_000));
    await short.finalize();
    const closed = await LocalHub.start();
    await closed.close();
    const offline = await failure(load(cache, BASE, closed.base));
    expect(offline).toBeInstanceOf(EngineError);
    expect(offline!.code).toBe('corrupt_file');
    expect(offline!.message).toMatch(
      /^test\/tiny-qwen3\/model\.safetensors: the copy kept in this browser is damaged \(.*tensor data ends at byte \d+ .* but the file has 20000 bytes\); delete it and download it again$/,
    );
    expect(offline!.damaged).toEqual([weightsKey]);
    expect(offline!.data()).toMatchObject({ code: 'corrupt_file', damaged: [weightsKey] });

    hub.requests.length = 0;
    await load(cache);
    expect(fileRequests()).toEqual(['model.safetensors']);
    expect(await cache.stat(weightsKey)).toMatchObject({ bytes: weights.byteLength, complete: true });
  });

  it('reports a damaged copy that the listing cannot tell apart, and a fresh download of it loads', async () => {
    const cache = new MemoryCache();
    await load(cache);
    const { oid } = (await cache.stat(weightsKey))!;
    const garbled = weights.slice();
    garbled.fill(0x7b, 8, 16); // "{{{{{{{{" inside the JSON header: same size, same recorded id
    const writer = await cache.write(weightsKey, { size: weights.byteLength, etag: null, oid }, 0);
    await writer.append(garbled);
    await writer.finalize();
    const error = await failure(load(cache));
    expect(error?.code).toBe('corrupt_file');
    expect(error?.message).toContain('header is not valid JSON');
    await cache.delete(error!.damaged[0]!);
    await load(cache);
  });

  it('says an adapter repo is an adapter, and a model repo is not one, before any file is fetched', async () => {
    const cache = new MemoryCache();
    const asBase = await failure(load(cache, LORA));
    expect(asBase?.code).toBe('bad_model');
    expect(asBase?.message).toBe(
      `${LORA} is a LoRA adapter (it has adapter_config.json, no config.json): load its base model here, then load ${LORA} under Adapters`,
    );
    expect(fileRequests()).toEqual([]);
    const model = await loadModel(modelFolder(source(BASE), cache, new AbortController().signal, () => {}), nodeRuntime, caps, () => {});
    try {
      hub.requests.length = 0;
      const asAdapter = await failure(loadAdapter(source(BASE), model.config, cache, new AbortController().signal, () => {}));
      expect(asAdapter?.message).toBe(`${BASE} is a full model (it has config.json, no adapter_config.json), not a LoRA adapter: load it as the base model`);
      expect(fileRequests()).toEqual([]);
      const { adapter } = await loadAdapter(source(LORA), model.config, cache, new AbortController().signal, () => {});
      expect(adapter.config.r).toBe(2);
      expect(fileRequests().sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    } finally {
      await model.session.release();
    }
  });
});
