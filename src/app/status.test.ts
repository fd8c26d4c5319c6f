import { describe, expect, it } from 'vitest';
import { probeWebGPU, type AdapterLike } from './webgpu.ts';
import { readStorage, requestPersistence } from './storage.ts';
import { formatBytes } from './format.ts';

const adapter = (features: string[]): AdapterLike => ({
  info: { vendor: 'google', architecture: 'swiftshader', description: '' },
  features: new Set(features),
  limits: { maxBufferSize: 268435456, maxStorageBufferBindingSize: 134217728 },
});

describe('probeWebGPU', () => {
  it('explains a missing navigator.gpu, naming secure contexts when that is the cause', async () => {
    const insecure = await probeWebGPU(undefined, false);
    expect(insecure.state === 'unavailable' && insecure.reason).toMatch(/secure context/);
    const absent = await probeWebGPU(undefined, true);
    expect(absent.state === 'unavailable' && absent.reason).toMatch(/navigator\.gpu/);
  });
  it('explains a null adapter and a throwing requestAdapter', async () => {
    const none = await probeWebGPU({ requestAdapter: async () => null }, true);
    expect(none.state === 'unavailable' && none.reason).toMatch(/no adapter/);
    const fails = await probeWebGPU({ requestAdapter: async () => { throw new Error('lost'); } }, true);
    expect(fails.state === 'unavailable' && fails.reason).toMatch(/lost/);
  });
  it('reads identity, shader-f16 and limits', async () => {
    const status = await probeWebGPU({ requestAdapter: async () => adapter(['shader-f16']) }, true);
    expect(status).toMatchObject({
      state: 'ready', vendor: 'google', architecture: 'swiftshader', shaderF16: true,
      maxBufferSize: 268435456, maxStorageBufferBindingSize: 134217728,
    });
    const fp32 = await probeWebGPU({ requestAdapter: async () => adapter([]) }, true);
    expect(fp32.state === 'ready' && fp32.shaderF16).toBe(false);
  });
});

describe('storage', () => {
  it('reports usage, quota and persistence, and updates after persist()', async () => {
    let persisted = false;
    const storage = {
      estimate: async () => ({ usage: 2048, quota: 1 << 30 }),
      persisted: async () => persisted,
      persist: async () => (persisted = true),
    };
    expect(await readStorage(storage)).toEqual({ state: 'ready', usage: 2048, quota: 1 << 30, persisted: false, canPersist: true });
    const { granted, status } = await requestPersistence(storage);
    expect(granted).toBe(true);
    expect(status.state === 'ready' && status.persisted).toBe(true);
  });
  it('says when the API is missing', async () => {
    expect((await readStorage(undefined)).state).toBe('unavailable');
  });
});

describe('formatBytes', () => {
  it('uses powers of 1024', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(300 * 1024 * 1024)).toBe('300 MB');
  });
});
