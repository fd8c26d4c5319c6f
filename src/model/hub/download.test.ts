import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ByteSource } from '../byte-source.ts';
import { seededRandom } from '../random.ts';
import { MemoryCache } from './cache.ts';
import { download, HubError } from './download.ts';
import { LocalHub } from './local-hub.ts';
import type { DownloadProgress } from './progress.ts';
import { hubFile } from './resolve.ts';

const REPO = 'test/weights';
const SIZE = 1_000_003;
const random = seededRandom(7);
const weights = Uint8Array.from({ length: SIZE }, () => Math.floor(random.uniform() * 256));

let hub: LocalHub;
beforeAll(async () => {
  hub = await LocalHub.start();
});
afterAll(() => hub.close());
beforeEach(() => {
  hub.put(REPO, 'model.safetensors', weights);
  hub.ignoreRanges = false;
  hub.chunkDelayMs = 0;
  hub.requests.length = 0;
});

const file = () => hubFile(REPO, 'model.safetensors', { base: hub.base });
// Vitest's deep equality walks a megabyte element by element; Buffer.compare says the same in a millisecond.
const expectBytes = async (source: ByteSource, expected: Uint8Array) => {
  expect(source.size).toBe(expected.byteLength);
  expect(Buffer.compare(await source.read(0, source.size), expected)).toBe(0);
};

describe('download', () => {
  it('fetches the whole file with monotone progress and the right total, then serves it from the cache', async () => {
    const cache = new MemoryCache();
    const events: DownloadProgress[] = [];
    const source = await download(file(), { cache, onProgress: (p) => events.push(p) });
    await expectBytes(source, weights);
    expect(hub.requests).toEqual([{ path: `/${REPO}/resolve/main/model.safetensors`, range: null, status: 200 }]);
    expect(events.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < events.length; i++) expect(events[i]!.loaded).toBeGreaterThanOrEqual(events[i - 1]!.loaded);
    expect(events.every((e) => e.total === SIZE)).toBe(true);
    expect(events.at(-1)).toMatchObject({ loaded: SIZE, etaSeconds: 0 });

    const again = await download(file(), { cache });
    await expectBytes(again, weights);
    expect(hub.requests).toHaveLength(1);
  });

  it('resumes an interrupted download with a Range request from the stored offset', async () => {
    const cache = new MemoryCache();
    hub.dropOnce(REPO, 'model.safetensors', 400_000);
    const error = await download(file(), { cache }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).kind).toBe('network');
    expect((error as Error).message).toMatch(/^download failed: test\/weights\/model\.safetensors: .*\(will resume/);
    const partial = await cache.partial({ repo: REPO, revision: 'main', file: 'model.safetensors' });
    expect(partial!.bytes).toBeGreaterThan(0);
    expect(partial!.bytes).toBeLessThanOrEqual(400_000);
    expect(partial!.size).toBe(SIZE);

    const events: DownloadProgress[] = [];
    const source = await download(file(), { cache, onProgress: (p) => events.push(p) });
    expect(hub.requests.at(-1)).toMatchObject({ range: `bytes=${partial!.bytes}-`, status: 206 });
    expect(events[0]!.loaded).toBe(partial!.bytes);
    await expectBytes(source, weights);
  });

  it('starts over when the server answers a Range request with the whole file', async () => {
    const cache = new MemoryCache();
    hub.dropOnce(REPO, 'model.safetensors', 300_000);
    await expect(download(file(), { cache })).rejects.toThrow(/will resume/);
    hub.ignoreRanges = true;
    const source = await download(file(), { cache });
    expect(hub.requests.at(-1)).toMatchObject({ range: expect.stringMatching(/^bytes=\d+-$/), status: 200 });
    await expectBytes(source, weights);
  });

  it('starts over when the file changed on the hub (different ETag)', async () => {
    const cache = new MemoryCache();
    hub.dropOnce(REPO, 'model.safetensors', 300_000);
    await expect(download(file(), { cache })).rejects.toThrow(/will resume/);
    const changed = weights.map((b) => b ^ 0xff);
    hub.put(REPO, 'model.safetensors', changed);
    const source = await download(file(), { cache });
    expect(hub.requests.slice(-2).map((r) => [r.range === null, r.status])).toEqual([
      [false, 206],
      [true, 200],
    ]);
    await expectBytes(source, changed);
  });

  it('cancelling keeps the partial file, and the next call continues it', async () => {
    const cache = new MemoryCache();
    hub.chunkDelayMs = 5;
    const controller = new AbortController();
    const run = download(file(), {
      cache,
      signal: controller.signal,
      onProgress: (p) => p.loaded > 100_000 && controller.abort(new Error('cancelled by the user')),
    });
    await expect(run).rejects.toThrow('cancelled by the user');
    const partial = await cache.partial({ repo: REPO, revision: 'main', file: 'model.safetensors' });
    expect(partial!.bytes).toBeGreaterThan(100_000);
    expect(partial!.bytes).toBeLessThan(SIZE);
    hub.chunkDelayMs = 0;
    const source = await download(file(), { cache });
    expect(hub.requests.at(-1)).toMatchObject({ range: `bytes=${partial!.bytes}-`, status: 206 });
    await expectBytes(source, weights);
  });

  it('says which file is missing and when a repo is gated', async () => {
    await expect(download(hubFile(REPO, 'tokenizer.json', { base: hub.base }))).rejects.toThrow(
      'file not found in repo test/weights: tokenizer.json',
    );
    hub.gate('meta-llama/Llama-3');
    const gated = await download(hubFile('meta-llama/Llama-3', 'config.json', { base: hub.base })).catch((e: unknown) => e);
    expect((gated as HubError).kind).toBe('gated');
    expect((gated as Error).message).toBe('repo meta-llama/Llama-3 is gated or private: log in / accept the license on the hub (config.json)');
  });

  it('reports a server that cannot be reached as a network failure', async () => {
    const closed = await LocalHub.start();
    const base = closed.base;
    await closed.close();
    await expect(download(hubFile(REPO, 'config.json', { base }))).rejects.toThrow(/^download failed: test\/weights\/config\.json: .*\(will resume\)$/);
  });
});
