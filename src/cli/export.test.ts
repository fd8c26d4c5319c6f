// `qmd export` writes, by streaming, exactly the bytes of the in-memory writer over the merged
// weights (whose numerics llama.cpp checks in src/model/qwen3/merged-gguf.test.ts).
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModel } from '../../scripts/make-tiny-model.ts';
import { loraGguf, qwen3Gguf } from '../model/gguf.ts';
import { qwen3TokenizerMetadata } from '../model/gguf-tokenizer.ts';
import { mergedReader } from '../model/merge.ts';
import { main } from './export.ts';

const dir = await mkdtemp(join(tmpdir(), 'qmd-export-'));
const modelDir = join(dir, 'model');
const adapterDir = join(dir, 'lora');
let made: Awaited<ReturnType<typeof makeTinyModel>>;
let tokenizerMetadata: ReturnType<typeof qwen3TokenizerMetadata>;

beforeAll(async () => {
  made = await makeTinyModel(modelDir, { seed: 5, intermediate: 128, adapter: { dir: adapterDir, rank: 2, alpha: 4 } });
  const json = async (f: string) => JSON.parse(await readFile(join(modelDir, f), 'utf8'));
  tokenizerMetadata = qwen3TokenizerMetadata(await json('tokenizer.json'), await json('tokenizer_config.json'), made.config, join(modelDir, 'tokenizer.json'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Deep equality on tens of MB is slow in expect(); Buffer compares them natively. */
function expectSameBytes(actual: Buffer, expected: Uint8Array): void {
  expect(actual.byteLength).toBe(expected.byteLength);
  expect(actual.equals(expected)).toBe(true);
}

describe('qmd export', () => {
  it.each(['f32', 'f16', 'q8_0'] as const)('--dtype %s with --adapter: the merged model, byte for byte', async (dtype) => {
    const out = join(dir, `merged-${dtype}.gguf`);
    expect(await main(['--model', modelDir, '--adapter', adapterDir, '--dtype', dtype, '--out', out])).toBe(0);
    const read = mergedReader(async (n) => made.weights.get(n)!, made.adapter, made.config);
    const type = ({ f32: 'F32', f16: 'F16', q8_0: 'Q8_0' } as const)[dtype];
    const expected = await qwen3Gguf(made.config, { read }, tokenizerMetadata, { type, name: 'lora' });
    expectSameBytes(await readFile(out), expected);
    await expect(stat(`${out}.partial`)).rejects.toThrow(/ENOENT/);
  });

  it('without --adapter: the base model', async () => {
    const out = join(dir, 'base.gguf');
    expect(await main(['--model', modelDir, '--dtype', 'f32', '--out', out])).toBe(0);
    const expected = await qwen3Gguf(made.config, { read: async (n) => made.weights.get(n)! }, tokenizerMetadata, { type: 'F32', name: 'model' });
    expectSameBytes(await readFile(out), expected);
  });

  it('--format gguf-lora: the adapter as llama.cpp reads it', async () => {
    const out = join(dir, 'adapter.gguf');
    expect(await main(['--model', modelDir, '--adapter', adapterDir, '--format', 'gguf-lora', '--out', out])).toBe(0);
    expectSameBytes(await readFile(out), loraGguf(made.adapter!, made.config));
  });

  it('refuses unknown dtypes and formats, and gguf-lora without an adapter', async () => {
    expect(await main(['--model', modelDir, '--dtype', 'q4', '--out', join(dir, 'x.gguf')])).toBe(2);
    expect(await main(['--model', modelDir, '--format', 'onnx', '--out', join(dir, 'x.gguf')])).toBe(2);
    expect(await main(['--model', modelDir, '--format', 'gguf-lora', '--out', join(dir, 'x.gguf')])).toBe(2);
  });
});
