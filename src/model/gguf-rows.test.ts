// What the GGUF export streams through: a block of a stored tensor's rows read without the rest
// (safetensors readRows, one file or sharded, each stored dtype), refused outside the tensor or
// when it holds NaN, naming the rows; and the writer refusing a block of the wrong size by its rows.
import { describe, expect, it } from 'vitest';
import { bytesSource } from './byte-source.ts';
import { writeGguf } from './gguf.ts';
import { openShardedCheckpoint, SafetensorsFile, writeSafetensors } from './safetensors.ts';

const values = Float32Array.from({ length: 5 * 6 }, (_, i) => (i - 7) / 8);

/** One file holding `values` as [5, 6] in each stored dtype, a 1-D norm beside them, and what the file's reads asked for. */
async function stored() {
  const bytes = writeSafetensors([
    { name: 'norm', dtype: 'F32', shape: [6], data: values.subarray(0, 6) },
    ...(['F32', 'F16', 'BF16'] as const).map((dtype) => ({ name: dtype, dtype, shape: [5, 6], data: values })),
  ]);
  const source = bytesSource(bytes, 'm.safetensors');
  const reads: number[] = [];
  const counted = { ...source, read: (offset: number, length: number) => (reads.push(length), source.read(offset, length)) };
  const file = await SafetensorsFile.open(counted);
  reads.length = 0;
  return { file, reads, bytes };
}

describe('SafetensorsFile.readRows', () => {
  it('gives the rows read() gives, reading only their bytes, in every stored dtype and through a sharded index', async () => {
    const { file, reads, bytes } = await stored();
    for (const dtype of ['F32', 'F16', 'BF16'] as const) {
      const whole = await file.read(dtype);
      reads.length = 0;
      expect(await file.readRows(dtype, 1, 3)).toEqual(whole.subarray(6, 18));
      expect(reads).toEqual([2 * 6 * (dtype === 'F32' ? 4 : 2)]);
      expect(await file.readRows(dtype, 5, 5)).toEqual(new Float32Array(0));
    }
    expect(await file.readRows('norm', 2, 4)).toEqual(values.subarray(2, 4));
    const sharded = await openShardedCheckpoint({ weight_map: { norm: 'a.safetensors', F32: 'a.safetensors', F16: 'a.safetensors', BF16: 'a.safetensors' } }, async () => bytesSource(bytes, 'a.safetensors'));
    expect(await sharded.readRows('BF16', 4, 5)).toEqual(await file.readRows('BF16', 4, 5));
  });

  it('refuses rows outside the tensor and a block holding NaN, naming the tensor and the rows', async () => {
    const { file } = await stored();
    await expect(file.readRows('F32', 3, 6)).rejects.toThrow('m.safetensors: tensor F32 has 5 rows, asked for rows 3 to 6');
    await expect(file.readRows('F32', 2, 1)).rejects.toThrow('asked for rows 2 to 1');
    await expect(file.readRows('F32', 0.5, 1)).rejects.toThrow('asked for rows 0.5 to 1');
    const poisoned = values.slice();
    poisoned[4 * 6 + 1] = Number.NaN;
    const bad = await SafetensorsFile.open(bytesSource(writeSafetensors([{ name: 'w', dtype: 'F32', shape: [5, 6], data: poisoned }]), 'bad.safetensors'));
    expect(await bad.readRows('w', 0, 4)).toEqual(values.subarray(0, 24));
    await expect(bad.readRows('w', 3, 5)).rejects.toThrow('bad.safetensors: tensor w (rows 3 to 5) holds a non-finite value (NaN) at element 7 of 12');
  });
});

describe('writeGguf by blocks', () => {
  it('refuses a block that does not hold the rows asked for, naming them', async () => {
    const tensor = { name: 'w', shape: [5, 6], type: 'F32' as const, readRows: async (begin: number, end: number) => values.subarray(begin * 6, end * 6 - 1) };
    await expect(writeGguf(async () => {}, [], [tensor], 12)).rejects.toThrow('GGUF tensor w: rows 0 to 2 hold 12 values, data has 11');
  });
});
