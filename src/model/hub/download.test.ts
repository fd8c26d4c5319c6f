import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ByteSource } from '../byte-source.ts';
import { seededRandom } from '../random.ts';
import { MemoryCache } from './cache.ts';
import { download, HubError } from './download.ts';
import { fetchListing, parseListing } from './listing.ts';
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

describe('checking the cache against the hub listing', () => {
  const key = { repo: REPO, revision: 'main', file: 'model.safetensors' };
  const fileRequests = () => hub.requests.filter((r) => !r.path.startsWith('/api/'));
  const listed = async () => (await fetchListing(REPO, { base: hub.base }))!.get('model.safetensors')!;

  it('reads sizes and content ids from the listing: LFS sha256 for weights, git blob id otherwise', async () => {
    hub.put(REPO, 'config.json', new TextEncoder().encode('{}'));
    const listing = (await fetchListing(REPO, { base: hub.base }))!;
    expect(listing.get('model.safetensors')).toEqual({ size: SIZE, oid: createHash('sha256').update(weights).digest('hex') });
    // git hash-object of "{}": the blob id the hub lists for a file kept in git.
    expect(listing.get('config.json')).toEqual({ size: 2, oid: '9e26dfeeb6e641a33dae4961196235bdb965b21b' });
    expect(await fetchListing('test/absent', { base: hub.base })).toBeNull();
    const closed = await LocalHub.start();
    await closed.close();
    expect(await fetchListing(REPO, { base: closed.base })).toBeNull();
  });

  it('never marks a file complete short of the listed size, and resumes it on the next call', async () => {
    const cache = new MemoryCache();
    hub.truncateOnce(REPO, 'model.safetensors', 400_000);
    await expect(download(file(), { cache, expected: await listed() })).rejects.toThrow(
      `download failed: ${REPO}/model.safetensors: the server sent 400000 bytes but the hub lists ${SIZE} (will resume)`,
    );
    expect(await cache.stat(key)).toMatchObject({ bytes: 400_000, size: SIZE, complete: false });
    const source = await download(file(), { cache, expected: await listed() });
    expect(fileRequests().at(-1)).toMatchObject({ range: 'bytes=400000-', status: 206 });
    await expectBytes(source, weights);

    // Without the listing the same short answer is indistinguishable from a whole file.
    const blind = new MemoryCache();
    hub.truncateOnce(REPO, 'model.safetensors', 400_000);
    expect((await download(file(), { cache: blind })).size).toBe(400_000);
    // …and the listing later replaces it.
    await expectBytes(await download(file(), { cache: blind, expected: await listed() }), weights);
  });

  it('fetches a file again when the hub lists another revision of it, and trusts the cache offline', async () => {
    const cache = new MemoryCache();
    await download(file(), { cache, expected: await listed() });
    const old = await listed();
    const changed = weights.map((b) => b ^ 0x5a);
    hub.put(REPO, 'model.safetensors', changed);
    hub.requests.length = 0;
    // Offline (no listing) the stored copy is used as it is.
    await expectBytes(await download(file(), { cache }), weights);
    await expectBytes(await download(file(), { cache, expected: null }), weights);
    expect(fileRequests()).toEqual([]);
    const fresh = await listed();
    expect(fresh.oid).not.toBe(old.oid);
    expect(fresh.size).toBe(old.size); // same size: only the content id tells the revisions apart
    await expectBytes(await download(file(), { cache, expected: fresh }), changed);
    expect(fileRequests().map((r) => r.range)).toEqual([null]);
    expect(await cache.stat(key)).toMatchObject({ oid: fresh.oid, complete: true });
    await download(file(), { cache, expected: fresh });
    expect(fileRequests()).toHaveLength(1);
  });

  it('replaces a stored copy whose content id was never recorded, and a partial of another version', async () => {
    const cache = new MemoryCache();
    const legacy = await cache.write(key, { size: SIZE, etag: null, oid: null }, 0);
    await legacy.append(weights.map((b) => b ^ 1));
    await legacy.finalize();
    const expected = await listed();
    await expectBytes(await download(file(), { cache, expected }), weights);
    expect(fileRequests().map((r) => r.range)).toEqual([null]);

    const other = await cache.write({ ...key, file: 'other.safetensors' }, { size: SIZE + 5, etag: null, oid: 'old' }, 0);
    await other.append(weights.subarray(0, 1000));
    await other.close();
    hub.put(REPO, 'other.safetensors', weights);
    hub.requests.length = 0;
    const otherFile = hubFile(REPO, 'other.safetensors', { base: hub.base });
    await expectBytes(await download(otherFile, { cache, expected: { size: SIZE, oid: expected.oid } }), weights);
    expect(fileRequests().map((r) => r.range)).toEqual([null]);
  });

  it('stops a body that runs past the listed size', async () => {
    const cache = new MemoryCache();
    await expect(download(file(), { cache, expected: { size: 300_000, oid: null } })).rejects.toThrow(
      `download failed: ${REPO}/model.safetensors: the server sent more than the 300000 bytes expected (will resume)`,
    );
    expect((await cache.stat(key))!.bytes).toBeLessThanOrEqual(300_000);
  });
});

describe('parseListing', () => {
  it('takes the LFS size and sha256 over the pointer blob, skips nameless entries, and refuses a body without siblings', () => {
    const listing = parseListing({
      sha: 'c1899de',
      siblings: [
        { rfilename: 'config.json', blobId: 'a6344aac', size: 726 },
        { rfilename: 'model.safetensors', blobId: 'b7e1', size: 135, lfs: { sha256: 'f47f7117', size: 1503300328, pointerSize: 135 } },
        { rfilename: 'README.md' },
        { blobId: 'nameless' },
      ],
    });
    expect([...listing!]).toEqual([
      ['config.json', { size: 726, oid: 'a6344aac' }],
      ['model.safetensors', { size: 1503300328, oid: 'f47f7117' }],
      ['README.md', { size: null, oid: null }],
    ]);
    expect(parseListing({ id: 'a/b' })).toBeNull();
    expect(parseListing(null)).toBeNull();
  });
});
