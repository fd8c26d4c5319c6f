// The 4-bit copy a q4 or q4f16 load keeps in the model cache (q4-copy.ts), on onnxruntime-node with the
// in-memory cache (the browser's OPFS cache implements the same ModelCache; e2e/engine-q4 runs it).
import { afterAll, describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import { MemoryCache, type CacheKey, type ModelCache } from '../model/hub/cache.ts';
import { layoutBytes, weightLayout } from '../model/qwen3/layout.ts';
import { isQ4Copy, openQ4Copy, q4CopyFile, recordQ4Copy, type CopyPlace } from './q4-copy.ts';
import { nodeRuntime } from './runtime-node.ts';
import { Qwen3Session } from './session.ts';
import { weightInputs, type InputSource } from './weight-source.ts';

const config = tinyModelConfig({ hidden: 64, layers: 2 });
const weights = tinyModelWeights(config, 41);
// 2 MB bindings: the embedding's 4.9 MB of codes in 3 chunks, so chunk names and the file name's rows are exercised.
const options = { weightDtype: 'q4', maxBindingBytes: 2 ** 21 } as const;
const layout = weightLayout(config, options);
const prompt = [151644, 872, 198, 14, 2152, 26865, 9190];

const sessions: Qwen3Session[] = [];
afterAll(async () => {
  for (const s of sessions) await s.release();
});
const load = async (source: InputSource | Map<string, Float32Array>) => {
  const s = await Qwen3Session.load(nodeRuntime, config, source, options);
  sessions.push(s);
  return s;
};

const place = (cache: ModelCache, source = 'model.safetensors=abc'): CopyPlace => ({ cache, repo: 'test/tiny', revision: 'main', source });
const keyOf = (p: CopyPlace): CacheKey => ({ repo: p.repo, revision: p.revision, file: q4CopyFile(layout) });
const checkpoint = () => weightInputs(config, layout, weights);

/** A kept copy's bytes, rewritten as a complete file after `edit`. */
async function rewrite(p: CopyPlace, edit: (bytes: Uint8Array) => Uint8Array): Promise<void> {
  const file = (await p.cache.get(keyOf(p)))!;
  const bytes = edit(await file.read(0, file.size));
  const writer = await p.cache.write(keyOf(p), { size: bytes.byteLength, etag: null, oid: null }, 0);
  await writer.append(bytes);
  await writer.finalize();
}

async function keep(p: CopyPlace): Promise<void> {
  const copy = recordQ4Copy(p, config, layout, checkpoint());
  await load(copy.source);
  expect(await copy.finish()).toBeNull();
}

describe('a q4 copy in the model cache', () => {
  it('is kept by a q4 load, holds exactly the layout’s bytes, and loads a session whose logits equal the checkpoint’s bit for bit', async () => {
    const p = place(new MemoryCache());
    expect(await openQ4Copy(p, config, layout)).toBeNull();
    const copy = recordQ4Copy(p, config, layout, checkpoint());
    const first = await load(copy.source);
    expect(await p.cache.has(keyOf(p))).toBe(false); // complete only once finished
    expect(await copy.finish()).toBeNull();
    expect(layout.chunks.length).toBe(3);
    expect(q4CopyFile(layout)).toBe(`qmd-lab.q4.${layout.chunks.map((c) => c.rows).join('-')}.safetensors`);
    expect([q4CopyFile(layout), 'model.safetensors', 'qmd-lab.q4.txt'].map(isQ4Copy)).toEqual([true, false, false]);

    const stored = (await p.cache.get(keyOf(p)))!;
    const headerLength = Number(new DataView((await stored.read(0, 8)).buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(await stored.read(8, headerLength))) as Record<string, { dtype: string; shape: number[] }>;
    expect(stored.size - 8 - headerLength).toBe(layoutBytes(config, layout));
    expect(header['__metadata__']).toEqual({ format: 'qmd-lab q4 v1', source: 'model.safetensors=abc' });
    expect(header['model.embed_tokens.weight#1^q4.packed']).toMatchObject({ dtype: 'U8', shape: [layout.chunks[1]!.rows, 2, 16] });

    const kept = (await openQ4Copy(p, config, layout))!;
    const second = await load(kept);
    const [want, got] = [await first.forward(prompt), await second.forward(prompt)];
    expect(got).toEqual(want);
    expect(second.memory().weights).toBe(first.memory().weights);
  });

  it('made from other checkpoint files, damaged in its header or cut short, is deleted and not read', async () => {
    const cache = new MemoryCache();
    await keep(place(cache));
    expect(await openQ4Copy(place(cache, 'model.safetensors=new'), config, layout)).toBeNull();
    expect(await cache.stat(keyOf(place(cache)))).toBeNull();

    for (const edit of [(b: Uint8Array) => (b.set([b[20]! ^ 1], 20), b), (b: Uint8Array) => b.subarray(0, b.byteLength - 16)]) {
      await keep(place(cache));
      await rewrite(place(cache), edit);
      expect(await openQ4Copy(place(cache), config, layout)).toBeNull();
      expect(await cache.stat(keyOf(place(cache)))).toBeNull();
    }
  });

  it('holding a NaN scale is refused by the input’s name, with what to do', async () => {
    const p = place(new MemoryCache());
    await keep(p);
    const stored = (await p.cache.get(keyOf(p)))!;
    const headerLength = Number(new DataView((await stored.read(0, 8)).buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(await stored.read(8, headerLength))) as Record<string, { data_offsets: [number, number] }>;
    const at = 8 + headerLength + header['model.layers.1.mlp.down_proj.weight^q4.scales']!.data_offsets[0] + 4 * 3;
    await rewrite(p, (b) => (new DataView(b.buffer, b.byteOffset).setFloat32(at, NaN, true), b));
    const kept = (await openQ4Copy(p, config, layout))!;
    await expect(load(kept)).rejects.toThrow(/model\.layers\.1\.mlp\.down_proj\.weight\^q4\.scales holds NaN at element 3; delete this 4-bit copy/);
  });

  it('of a q4f16 load: a file of its own beside q4’s, float16 scales and norms, a NaN among them refused by name', async () => {
    const cache = new MemoryCache();
    await keep(place(cache));
    const halfOptions = { ...options, weightDtype: 'q4f16' } as const;
    const halfLayout = weightLayout(config, halfOptions);
    const p = place(cache);
    const copy = recordQ4Copy(p, config, halfLayout, weightInputs(config, halfLayout, weights));
    const first = await Qwen3Session.load(nodeRuntime, config, copy.source, halfOptions);
    sessions.push(first);
    expect(await copy.finish()).toBeNull();
    expect(q4CopyFile(halfLayout)).toBe(`qmd-lab.q4f16.${halfLayout.chunks.map((c) => c.rows).join('-')}.safetensors`);
    expect(isQ4Copy(q4CopyFile(halfLayout))).toBe(true);
    expect(await cache.has(keyOf(p))).toBe(true); // q4's copy stays

    const halfKey = { ...keyOf(p), file: q4CopyFile(halfLayout) };
    const stored = (await cache.get(halfKey))!;
    const headerLength = Number(new DataView((await stored.read(0, 8)).buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(await stored.read(8, headerLength))) as Record<string, { dtype: string; data_offsets: [number, number] }>;
    expect(stored.size - 8 - headerLength).toBe(layoutBytes(config, halfLayout));
    expect([header['model.norm.weight']!.dtype, header['model.layers.0.mlp.up_proj.weight^q4.scales']!.dtype]).toEqual(['F16', 'F16']);
    const second = await Qwen3Session.load(nodeRuntime, config, (await openQ4Copy(p, config, halfLayout))!, halfOptions);
    sessions.push(second);
    expect(await second.forward(prompt)).toEqual(await first.forward(prompt));

    const at = 8 + headerLength + header['model.layers.1.mlp.down_proj.weight^q4.scales']!.data_offsets[0] + 2 * 3;
    const bytes = await stored.read(0, stored.size);
    new DataView(bytes.buffer, bytes.byteOffset).setUint16(at, 0x7e00, true); // float16 NaN
    const writer = await cache.write(halfKey, { size: bytes.byteLength, etag: null, oid: null }, 0);
    await writer.append(bytes);
    await writer.finalize();
    const damaged = (await openQ4Copy(p, config, halfLayout))!;
    await expect(Qwen3Session.load(nodeRuntime, config, damaged, halfOptions)).rejects.toThrow(/model\.layers\.1\.mlp\.down_proj\.weight\^q4\.scales holds NaN at element 3; delete this 4-bit copy/);
  });

  it('is dropped, never the load, when the cache cannot write it; a failed load leaves none', async () => {
    const cache = new MemoryCache();
    const full: ModelCache = Object.assign(Object.create(cache) as ModelCache, {
      write: async () => {
        throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      },
    });
    const copy = recordQ4Copy(place(full), config, layout, checkpoint());
    const session = await load(copy.source);
    expect((await session.forward(prompt)).length).toBe(config.vocabSize);
    expect(await copy.finish()).toMatch(/QuotaExceededError/);
    expect(await cache.stat(keyOf(place(cache)))).toBeNull();

    const broken: InputSource = {
      async *inputs(name) {
        if (name.includes('layers.1')) throw new Error(`read ${name}: the file went away`);
        yield* checkpoint().inputs(name);
      },
    };
    const failing = recordQ4Copy(place(cache), config, layout, broken);
    await expect(load(failing.source)).rejects.toThrow(/the file went away/);
    await failing.abandon();
    expect(await cache.stat(keyOf(place(cache)))).toBeNull();
  });
});
