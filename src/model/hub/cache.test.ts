import { describe, expect, it } from 'vitest';
import { MemoryCache } from './cache.ts';
import { RateMeter } from './progress.ts';

const key = (file: string, repo = 'Qwen/Qwen3-0.6B') => ({ repo, revision: 'main', file });
const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe('MemoryCache', () => {
  it('keeps partial files for resume, lists, deletes and clears', async () => {
    const cache = new MemoryCache();
    const config = await cache.write(key('config.json'), { size: 3, etag: '"c"', oid: 'c1' }, 0);
    await config.append(bytes(3, 1));
    await config.finalize();
    const weights = await cache.write(key('model.safetensors'), { size: 10, etag: '"w"', oid: 'w1' }, 0);
    await weights.append(bytes(4, 2));
    await weights.close();

    expect(await cache.has(key('config.json'))).toBe(true);
    expect(await cache.has(key('model.safetensors'))).toBe(false);
    expect(await cache.get(key('model.safetensors'))).toBeNull();
    expect(await cache.partial(key('model.safetensors'))).toEqual({ bytes: 4, size: 10, etag: '"w"', oid: 'w1' });
    expect(await cache.stat(key('model.safetensors'))).toEqual({ bytes: 4, size: 10, etag: '"w"', oid: 'w1', complete: false });
    expect(await cache.stat(key('config.json'))).toEqual({ bytes: 3, size: 3, etag: '"c"', oid: 'c1', complete: true });
    expect(await cache.stat(key('tokenizer.json'))).toBeNull();
    await expect(cache.write(key('model.safetensors'), { size: 10, etag: '"w"', oid: 'w1' }, 3)).rejects.toThrow(
      'Qwen/Qwen3-0.6B@main/model.safetensors: cannot continue writing at byte 3, 4 bytes are stored',
    );

    const resumed = await cache.write(key('model.safetensors'), { size: 10, etag: '"w"', oid: 'w1' }, 4);
    await resumed.append(bytes(5, 3));
    await expect(resumed.finalize()).rejects.toThrow('stored 9 bytes but the server announced 10');
    await resumed.append(bytes(1, 3));
    await resumed.finalize();
    const source = (await cache.get(key('model.safetensors')))!;
    expect([...(await source.read(2, 4))]).toEqual([2, 2, 3, 3]);

    const adapter = await cache.write(key('adapter_model.safetensors', 'tobil/qmd-query-expansion-0.6B-v4'), { size: null, etag: null, oid: null }, 0);
    await adapter.append(bytes(7, 4));
    await adapter.close();
    const listing = (await cache.list()).map(({ date, ...entry }) => (expect(date).toBeGreaterThan(0), entry));
    expect(listing).toEqual([
      { repo: 'Qwen/Qwen3-0.6B', revision: 'main', file: 'config.json', bytes: 3, size: 3, complete: true },
      { repo: 'Qwen/Qwen3-0.6B', revision: 'main', file: 'model.safetensors', bytes: 10, size: 10, complete: true },
      { repo: 'tobil/qmd-query-expansion-0.6B-v4', revision: 'main', file: 'adapter_model.safetensors', bytes: 7, size: null, complete: false },
    ]);
    expect(await cache.totalBytes()).toBe(20);

    await cache.delete(key('model.safetensors'));
    expect((await cache.list()).map((e) => e.file)).toEqual(['config.json', 'adapter_model.safetensors']);
    expect(await cache.totalBytes()).toBe(10);
    await cache.clear();
    expect(await cache.list()).toEqual([]);
    expect(await cache.totalBytes()).toBe(0);
  });
});

describe('RateMeter', () => {
  it('smooths the rate over time and derives the ETA', () => {
    let now = 0;
    const meter = new RateMeter(1_000_000, 11_000_000, () => now);
    expect(meter.update(1_000_000)).toEqual({ loaded: 1_000_000, total: 11_000_000, rate: 0, etaSeconds: null });
    now = 1000;
    // First sample: 2 MB in 1 s.
    expect(meter.update(3_000_000)).toEqual({ loaded: 3_000_000, total: 11_000_000, rate: 2_000_000, etaSeconds: 4 });
    now = 1050;
    // Under 100 ms since the last sample: the rate holds.
    expect(meter.update(3_500_000).rate).toBe(2_000_000);
    now = 3000;
    // 2 MB over 2 s = 1 MB/s, weighted 1 − e^(−2/3) = 0.48658 against the old 2 MB/s.
    const progress = meter.update(5_000_000);
    expect(progress.rate).toBeCloseTo(2_000_000 - 0.486583 * 1_000_000, 0);
    expect(progress.etaSeconds).toBeCloseTo(6_000_000 / 1_513_417, 4);
    expect(meter.update(11_000_000).etaSeconds).toBe(0);
  });
});
