import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { blobSource, bytesSource } from './byte-source.ts';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './dtype.ts';
import { openFileSource } from './file-source.ts';
import { openShardedCheckpoint, SafetensorsFile, writeSafetensors, type TensorToWrite } from './safetensors.ts';

const dir = await mkdtemp(join(tmpdir(), 'safetensors-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('half-precision conversions', () => {
  it('matches IEEE binary16 and bfloat16 bit patterns', () => {
    // Known encodings: 1, −2, largest half, smallest subnormal half, and ties rounding to even.
    expect([1, -2, 65504, 2 ** -24, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1e6].map(f32ToF16)).toEqual([
      0x3c00, 0xc000, 0x7bff, 0x0001, 0x3c00, 0x3c02, 0x7c00,
    ]);
    expect([0x3c00, 0x0001, 0x7bff, 0x8400].map(f16ToF32)).toEqual([1, 2 ** -24, 65504, -(2 ** -14)]);
    expect([1, -2, 1 + 2 ** -8, 1 + 3 * 2 ** -8, Math.PI].map(f32ToBf16)).toEqual([0x3f80, 0xc000, 0x3f80, 0x3f82, 0x4049]);
    expect(bf16ToF32(0x4049)).toBe(3.140625);
  });
});

function sample(dtype: TensorToWrite['dtype'], name: string, shape: number[], seed: number): TensorToWrite {
  const count = shape.reduce((a, b) => a * b, 1);
  // Values with ≤ 8 significant bits survive f16 and bf16 exactly.
  const data = Float32Array.from({ length: count }, (_, i) => ((((i * 37 + seed) % 255) - 127) / 64) * 2 ** ((i % 5) - 2));
  return { name, dtype, shape, data };
}

describe('safetensors', () => {
  const tensors = [
    sample('F32', 'model.embed_tokens.weight', [7, 5], 1),
    sample('F16', 'model.norm.weight', [5], 2),
    sample('BF16', 'lm_head.weight', [3, 5], 3),
    sample('F32', 'empty', [0, 4], 4),
  ];

  it('round-trips f32, f16 and bf16 through bytes, a file and a Blob', async () => {
    const bytes = writeSafetensors(tensors, { format: 'pt' });
    const header = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + header) % 8).toBe(0);
    const path = join(dir, 'model.safetensors');
    await writeFile(path, bytes);
    const fileSource = await openFileSource(path);
    for (const source of [bytesSource(bytes), fileSource, blobSource(new Blob([bytes]))]) {
      const file = await SafetensorsFile.open(source);
      expect(file.metadata).toEqual({ format: 'pt' });
      expect(file.names().sort()).toEqual(tensors.map((t) => t.name).sort());
      for (const t of tensors) {
        expect(file.info(t.name)).toMatchObject({ dtype: t.dtype, shape: t.shape });
        expect(await file.read(t.name)).toEqual(t.data);
      }
    }
    await fileSource.close();
  });

  it('rounds to nearest even when narrowing to f16/bf16', async () => {
    const data = new Float32Array([1 + 2 ** -11, 1 + 2 ** -8 + 2 ** -12, 0.1]);
    const file = await SafetensorsFile.open(
      bytesSource(writeSafetensors([{ name: 'h', dtype: 'F16', shape: [3], data }, { name: 'b', dtype: 'BF16', shape: [3], data }])),
    );
    expect([...(await file.read('h'))]).toEqual([1, 1 + 2 ** -8, 0.0999755859375]);
    expect([...(await file.read('b'))]).toEqual([1, 1 + 2 ** -7, 0.10009765625]);
  });

  it('reads a sharded checkpoint through its index', async () => {
    const shards = { 'model-00001-of-00002.safetensors': tensors.slice(0, 2), 'model-00002-of-00002.safetensors': tensors.slice(2) };
    const files = Object.fromEntries(Object.entries(shards).map(([f, ts]) => [f, writeSafetensors(ts)]));
    const index = { metadata: { total_size: 0 }, weight_map: Object.fromEntries(Object.entries(shards).flatMap(([f, ts]) => ts.map((t) => [t.name, f]))) };
    const reader = await openShardedCheckpoint(index, async (f) => bytesSource(files[f], f));
    expect(reader.names()).toEqual(tensors.map((t) => t.name));
    for (const t of tensors) expect(await reader.read(t.name)).toEqual(t.data);
    const wrong = { weight_map: { ...index.weight_map, 'lm_head.weight': 'model-00001-of-00002.safetensors' } };
    await expect(openShardedCheckpoint(wrong, async (f) => bytesSource(files[f], f))).rejects.toThrow(
      'model-00002-of-00002.safetensors: tensor lm_head.weight is not listed for this shard',
    );
  });

  /** A file whose header is `header` followed by `dataBytes` zero bytes. */
  function raw(header: unknown, dataBytes: number): Uint8Array {
    const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
    const out = new Uint8Array(8 + json.length + dataBytes);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    return out;
  }

  it.each([
    [{ w: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, 16, 'tensor w has dtype "I64", expected F32, F16 or BF16'],
    [{ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, 20, 'tensor w (F32 [2, 3]) spans 20 bytes, expected 24'],
    [{ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4, 'tensor w has shape [-1]'],
    [{ a: { dtype: 'F16', shape: [2], data_offsets: [0, 4] }, b: { dtype: 'F16', shape: [2], data_offsets: [8, 12] } }, 12, 'tensor b starts at data offset 8 and leaves a gap'],
    [{ a: { dtype: 'F16', shape: [2], data_offsets: [0, 4] }, b: { dtype: 'F16', shape: [2], data_offsets: [2, 6] } }, 6, 'tensor b starts at data offset 2 and overlaps'],
    [{ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 12, 'tensor data ends at byte'],
    [{ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 0, 'tensor data ends at byte'],
    ['{"w": ', 0, 'header is not valid JSON'],
  ])('rejects header %j', async (header, dataBytes, message) => {
    await expect(SafetensorsFile.open(bytesSource(raw(header, dataBytes), 'bad.safetensors'))).rejects.toThrow(`bad.safetensors: ${message}`);
  });

  it('rejects a header length past the end of the file', async () => {
    const bytes = raw({}, 0);
    new DataView(bytes.buffer).setBigUint64(0, 1000n, true);
    await expect(SafetensorsFile.open(bytesSource(bytes, 'short.safetensors'))).rejects.toThrow('short.safetensors: header length 1000');
  });
});
