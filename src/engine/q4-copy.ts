// A model's 4-bit weights kept in the browser's download cache beside the files they were made
// from, so that the next q4 load reads the codes and scales (~1/6 of the float32 bytes, ~1/3 of a
// bf16 checkpoint's) instead of reading and quantizing the checkpoint again (issue 12).
//
// The copy is one safetensors file (U8 codes; F32 scales and norm vectors, F16 for a q4f16 load:
// Python's safetensors opens it) in the repo revision's cache folder, named by the layout's type and
// vocabulary chunks. Its layout follows from the model config and the layout alone
// (layout.ts q4InputShapes), so its header is known before the first byte: a copy is used only
// when its header equals the expected one byte for byte — same shapes, same format, made from the
// same checkpoint files (their hub ids in the metadata) — and its size matches; anything else is
// deleted and made again. It is written as the load uploads, input by input, and marked complete
// only after the last one (cache.ts), so a load cut short leaves a partial that is never read.
import type { Qwen3Config } from '../model/config.ts';
import type { CacheKey, CacheWriter, ModelCache } from '../model/hub/cache.ts';
import { dtypeBytes, f16ToF32 } from '../model/dtype.ts';
import { q4InputShapes, type Q4InputDtype, type WeightLayout } from '../model/qwen3/layout.ts';
import { safetensorsHeader } from '../model/safetensors.ts';
import type { InputSource, WeightInput } from './weight-source.ts';

/** Bumped when the codes or the file's layout change: a copy of another version is never read. */
const FORMAT = 'qmd-lab q4 v1';

/** Where a copy goes: the repo revision's folder in the cache, and the ids of the checkpoint files it is made from. */
export interface CopyPlace {
  cache: ModelCache;
  repo: string;
  revision: string;
  /** e.g. `model.safetensors=<oid>`: a new revision of any file makes the copy stale. */
  source: string;
}

const PREFIX = 'qmd-lab.';

/** The copy's file name in the cache folder: the layout's type (q4, q4f16) and its vocabulary chunks' rows (a device with other binding limits makes its own). */
export const q4CopyFile = (layout: WeightLayout): string => `${PREFIX}${layout.dtype}.${layout.chunks.map((c) => c.rows).join('-')}.safetensors`;

/** Whether a cached file is such a copy, not a file of the repo. */
export const isQ4Copy = (file: string): boolean => /^qmd-lab\.q4(f16)?\.[\d-]+\.safetensors$/.test(file);

const elementBytes = (dtype: Q4InputDtype): number => (dtype === 'U8' ? 1 : dtypeBytes[dtype]);

const keyOf = (place: CopyPlace, layout: WeightLayout): CacheKey => ({ repo: place.repo, revision: place.revision, file: q4CopyFile(layout) });

/** The copy's expected header and each input's byte range and element type. */
function expected(c: Qwen3Config, layout: WeightLayout, source: string) {
  const shapes = q4InputShapes(c, layout);
  const entries = [...shapes.values()].flat().map(([name, dims, dtype]) => ({ name, dtype, shape: dims, bytes: dims.reduce((a, d) => a * d, elementBytes(dtype)) }));
  return { shapes, ...safetensorsHeader(entries, { format: FORMAT, source }) };
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.byteLength === b.byteLength && a.every((v, i) => v === b[i]);

/**
 * The copy as an InputSource, or null when there is none that fits (a stale or damaged one is
 * deleted). Float inputs are checked finite on the way, as the checkpoint's are when quantized.
 */
export async function openQ4Copy(place: CopyPlace, c: Qwen3Config, layout: WeightLayout): Promise<InputSource | null> {
  const key = keyOf(place, layout);
  const file = await place.cache.get(key);
  if (!file) return null;
  const want = expected(c, layout, place.source);
  if (file.size !== want.size || !sameBytes(await file.read(0, want.bytes.byteLength), want.bytes)) {
    await place.cache.delete(key);
    return null;
  }
  return {
    async *inputs(name) {
      for (const [input, dims, dtype] of want.shapes.get(name) ?? []) {
        const { begin, end } = want.ranges.get(input)!;
        const bytes = await file.read(begin, end - begin);
        if (dtype === 'U8') {
          yield [input, dims, bytes];
          continue;
        }
        // A copy of the bytes when they are not aligned to their element in their buffer.
        const size = elementBytes(dtype);
        const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
        const data = dtype === 'F16' ? new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2) : new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
        const value = (i: number) => (data instanceof Uint16Array ? f16ToF32(data[i]!) : data[i]!);
        const bad = data.findIndex((_, i) => !Number.isFinite(value(i)));
        if (bad >= 0) throw new Error(`${file.name}: ${input} holds ${value(bad)} at element ${bad}; delete this 4-bit copy from the model cache and load again`);
        yield [input, dims, data];
      }
    },
  };
}

/**
 * `inner` (the checkpoint, quantized as it is read) passed through unchanged while each input is
 * also written to a new copy. `finish` marks the copy complete once every input went through and
 * says whether it did; `abandon` (a failed load) deletes what was written. A write that fails
 * (storage full) drops the copy, never the load.
 */
export function recordQ4Copy(place: CopyPlace, c: Qwen3Config, layout: WeightLayout, inner: InputSource) {
  const key = keyOf(place, layout);
  const want = expected(c, layout, place.source);
  const order = [...want.shapes.values()].flat();
  let next = 0;
  let writer: Promise<CacheWriter> | null = null;
  let failed: string | null = null;
  const drop = async (why: string) => {
    failed ??= why;
    const open = writer;
    writer = null;
    await open?.then((w) => w.close()).catch(() => {});
    await place.cache.delete(key).catch(() => {});
  };
  const write = async ([input, dims, data]: WeightInput) => {
    const [name, shape, dtype] = order[next++] ?? [];
    if (name !== input || shape?.join() !== dims.join() || dtype !== (data instanceof Uint8Array ? 'U8' : data instanceof Uint16Array ? 'F16' : 'F32')) {
      return drop(`input ${input} [${dims}] where the copy expects ${name ?? 'nothing'}`);
    }
    writer ??= place.cache.write(key, { size: want.size, etag: null, oid: null }, 0).then(async (w) => (await w.append(want.bytes), w));
    await (await writer).append(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  };
  return {
    source: {
      async *inputs(name: string) {
        for await (const item of inner.inputs(name)) {
          if (!failed) await write(item).catch((error: unknown) => drop(String(error)));
          yield item;
        }
      },
    } satisfies InputSource,
    /** Marks the copy complete; null when it is, else why it was dropped. */
    async finish(): Promise<string | null> {
      if (!failed && next !== order.length) await drop(`${order.length - next} of ${order.length} inputs never came`);
      if (failed || !writer) return failed ?? 'nothing was written';
      await (await writer).finalize().catch((error: unknown) => drop(String(error)));
      return failed;
    },
    abandon: () => drop('the load failed'),
  };
}
