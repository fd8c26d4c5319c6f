import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openShardedCheckpoint, writeSafetensors } from '../safetensors.ts';
import { MemoryCache } from './cache.ts';
import { parseModelCatalog } from './catalog.ts';
import { download, readJson } from './download.ts';
import { LocalHub } from './local-hub.ts';
import { checkRepoId, hubFile, listAdapterFiles, listBaseModelFiles, parseRepoInput } from './resolve.ts';

let hub: LocalHub;
beforeAll(async () => {
  hub = await LocalHub.start();
});
afterAll(() => hub.close());

const text = (s: string) => new TextEncoder().encode(s);

describe('hub file URLs and repo ids', () => {
  it('builds resolve URLs, encoding the revision and each path segment', () => {
    expect(hubFile('Qwen/Qwen3-0.6B', 'config.json').url).toBe('https://huggingface.co/Qwen/Qwen3-0.6B/resolve/main/config.json');
    expect(hubFile('a/b', 'onnx/model q.onnx', { base: 'http://127.0.0.1:9/', revision: 'refs/pr/1' })).toEqual({
      repo: 'a/b',
      revision: 'refs/pr/1',
      file: 'onnx/model q.onnx',
      url: 'http://127.0.0.1:9/a/b/resolve/refs%2Fpr%2F1/onnx/model%20q.onnx',
    });
    expect(() => hubFile('a/b', '../secret')).toThrow('invalid file path "../secret" in repo a/b');
  });

  it('accepts hub repo ids and refuses others with the expected form', () => {
    for (const ok of ['Qwen/Qwen3-0.6B', 'tobil/qmd-query-expansion-0.6B-v4', 'a_b/c.d']) expect(checkRepoId(ok)).toBe(ok);
    for (const bad of ['Qwen3-0.6B', 'a/b/c', 'a/-b', 'a/b.', 'a/b--c', 'a/b..c', 'a b/c', `a/${'x'.repeat(97)}`]) {
      expect(() => checkRepoId(bad)).toThrow(`invalid repo id ${JSON.stringify(bad)}: expected owner/name`);
    }
    expect(parseRepoInput(' https://huggingface.co/Qwen/Qwen3-1.7B/tree/main ')).toBe('Qwen/Qwen3-1.7B');
    expect(parseRepoInput('tobil/qmd-query-expansion-1.7B')).toBe('tobil/qmd-query-expansion-1.7B');
  });
});

describe('listing what to fetch', () => {
  it('a single-file model: config, tokenizer, model.safetensors after a 404 for the index', async () => {
    hub.put('test/single', 'model.safetensors', text('weights'));
    const files = await listBaseModelFiles('test/single', { base: hub.base });
    expect(files.map((f) => f.file)).toEqual(['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors']);
    expect(files[3]!.url).toBe(`${hub.base}/test/single/resolve/main/model.safetensors`);
    expect(hub.requests.at(-1)).toMatchObject({ path: '/test/single/resolve/main/model.safetensors.index.json', status: 404 });
  });

  it('a sharded model: the index then its shards, deduplicated and in order, readable through the cache', async () => {
    const tensor = (name: string, values: number[]) => ({ name, dtype: 'F32' as const, shape: [values.length], data: Float32Array.from(values) });
    const shard1 = [tensor('model.embed_tokens.weight', [1, 2, 3]), tensor('model.norm.weight', [4])];
    const shard2 = [tensor('model.layers.0.input_layernorm.weight', [5, 6])];
    const index = {
      metadata: { total_size: 24 },
      weight_map: {
        'model.layers.0.input_layernorm.weight': 'model-00002-of-00002.safetensors',
        'model.embed_tokens.weight': 'model-00001-of-00002.safetensors',
        'model.norm.weight': 'model-00001-of-00002.safetensors',
      },
    };
    hub.put('test/sharded', 'model.safetensors.index.json', text(JSON.stringify(index)));
    hub.put('test/sharded', 'model-00001-of-00002.safetensors', writeSafetensors(shard1));
    hub.put('test/sharded', 'model-00002-of-00002.safetensors', writeSafetensors(shard2));
    const cache = new MemoryCache();
    const files = await listBaseModelFiles('test/sharded', { base: hub.base, revision: 'main' }, { cache });
    expect(files.map((f) => f.file)).toEqual([
      'config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'model.safetensors.index.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
    ]);
    const requested = hub.requests.length;
    const indexJson = await readJson(await download(files[3]!, { cache }));
    expect(hub.requests.length).toBe(requested);
    const reader = await openShardedCheckpoint(indexJson, (name) => download(hubFile('test/sharded', name, { base: hub.base }), { cache }));
    expect([...(await reader.read('model.layers.0.input_layernorm.weight'))]).toEqual([5, 6]);
    expect([...(await reader.read('model.embed_tokens.weight'))]).toEqual([1, 2, 3]);
  });

  it('an adapter: adapter_config.json and adapter_model.safetensors', () => {
    expect(listAdapterFiles('tobil/qmd-query-expansion-0.6B-v4', { revision: 'v4' }).map((f) => f.url)).toEqual([
      'https://huggingface.co/tobil/qmd-query-expansion-0.6B-v4/resolve/v4/adapter_config.json',
      'https://huggingface.co/tobil/qmd-query-expansion-0.6B-v4/resolve/v4/adapter_model.safetensors',
    ]);
  });
});

describe('configs/models.json', () => {
  const path = new URL('../../../configs/models.json', import.meta.url);

  it('names the default base and adapter and a prompt format per model', async () => {
    const catalog = parseModelCatalog(JSON.parse(await readFile(path, 'utf8')));
    expect(catalog.defaults).toEqual({ base: 'Qwen/Qwen3-0.6B', adapter: 'tobil/qmd-query-expansion-0.6B-v4' });
    const formats = Object.fromEntries(catalog.models.map((m) => [m.repo, m.promptFormat]));
    expect(formats).toEqual({
      'Qwen/Qwen3-0.6B': 'qmd-v4',
      'Qwen/Qwen3-1.7B': 'qmd-v4',
      'tobil/qmd-query-expansion-0.6B-v4': 'qmd-v4',
      'tobil/qmd-query-expansion-1.7B': 'qmd-1.7b',
    });
    expect(catalog.models.find((m) => m.kind === 'adapter')?.baseModel).toBe('Qwen/Qwen3-0.6B');
  });

  it('names the entry and field that is wrong', async () => {
    const json = JSON.parse(await readFile(path, 'utf8'));
    json.models[1].prompt_format = 'qmd-v9';
    expect(() => parseModelCatalog(json)).toThrow('configs/models.json: models[1].prompt_format is "qmd-v9", expected one of qmd-v4, qmd-1.7b');
    json.models[1].prompt_format = 'qmd-v4';
    json.defaults.adapter = 'Qwen/Qwen3-1.7B';
    expect(() => parseModelCatalog(json)).toThrow('defaults.adapter is "Qwen/Qwen3-1.7B", expected the repo of a listed adapter model');
  });
});
