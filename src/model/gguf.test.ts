import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { qwen3TokenizerFiles, tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import { encodeTensor } from './dtype.ts';
import { loraGguf, qwen3Gguf } from './gguf.ts';
import { qwen3TokenizerMetadata } from './gguf-tokenizer.ts';
import { newAdapter } from './peft.ts';

/** A minimal GGUF v3 reader written from the spec, independent of the writer. */
function parseGguf(bytes: Uint8Array) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const u32 = () => ((at += 4), view.getUint32(at - 4, true));
  const u64 = () => ((at += 8), Number(view.getBigUint64(at - 8, true)));
  const str = () => {
    const n = u64();
    at += n;
    return new TextDecoder().decode(bytes.subarray(at - n, at));
  };
  const value = (type: number): unknown => {
    switch (type) {
      case 4: return u32();
      case 5: return ((at += 4), view.getInt32(at - 4, true));
      case 6: return ((at += 4), view.getFloat32(at - 4, true));
      case 7: return bytes[at++] === 1;
      case 8: return str();
      case 9: {
        const inner = u32();
        return Array.from({ length: u64() }, () => value(inner));
      }
      default: throw new Error(`type ${type}`);
    }
  };
  expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe('GGUF');
  at = 4;
  const version = u32();
  const tensorCount = u64();
  const kvCount = u64();
  const metadata = new Map<string, unknown>();
  for (let i = 0; i < kvCount; i++) {
    const key = str();
    metadata.set(key, value(u32()));
  }
  const tensors = Array.from({ length: tensorCount }, () => {
    const name = str();
    const dims = Array.from({ length: u32() }, u64);
    return { name, dims, type: u32(), offset: u64() };
  });
  const dataStart = Math.ceil(at / 32) * 32;
  return { version, metadata, tensors, dataStart };
}

const tokenizer = JSON.parse(await readFile(qwen3TokenizerFiles.tokenizer, 'utf8'));
const tokenizerConfig = JSON.parse(await readFile(qwen3TokenizerFiles.tokenizerConfig, 'utf8'));

describe('GGUF writer', () => {
  const config = tinyModelConfig({ hidden: 32, heads: 3, kvHeads: 1, headDim: 8, intermediate: 48, layers: 1, untied: true });
  const weights = tinyModelWeights(config, 3);

  it('writes a qwen3 base model: metadata, innermost-first dims, aligned HF bytes', async () => {
    const bytes = await qwen3Gguf(config, { read: async (n) => weights.get(n)! }, qwen3TokenizerMetadata(tokenizer, tokenizerConfig, config), { type: 'F16' });
    const { version, metadata, tensors, dataStart } = parseGguf(bytes);
    expect(version).toBe(3);
    expect(metadata.get('general.architecture')).toBe('qwen3');
    expect(metadata.get('qwen3.attention.head_count')).toBe(3);
    expect(metadata.get('qwen3.attention.head_count_kv')).toBe(1);
    expect(metadata.get('qwen3.attention.key_length')).toBe(8);
    expect(metadata.get('qwen3.rope.freq_base')).toBe(1e6);
    expect(metadata.get('qwen3.attention.layer_norm_rms_epsilon')).toBe(Math.fround(1e-6));
    const tokens = metadata.get('tokenizer.ggml.tokens') as string[];
    const types = metadata.get('tokenizer.ggml.token_type') as number[];
    expect(tokens).toHaveLength(151936);
    expect([tokens[151645], types[151645]]).toEqual(['<|im_end|>', 3]);
    expect([tokens[151667], types[151667]]).toEqual(['<think>', 4]);
    expect([tokens[151935], types[151935]]).toEqual(['[PAD151935]', 5]);
    expect([tokens[220], types[220]]).toEqual(['Ġ', 1]);
    expect((metadata.get('tokenizer.ggml.merges') as string[])[0]).toBe('Ġ Ġ');
    expect(metadata.get('tokenizer.ggml.eos_token_id')).toBe(151645);
    expect(metadata.get('tokenizer.ggml.padding_token_id')).toBe(151643);
    expect(tensors.map((t) => t.name)).toEqual([
      'token_embd.weight',
      ...['attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down', 'attn_q_norm', 'attn_k_norm', 'ffn_norm'].map((n) => `blk.0.${n}.weight`),
      'output_norm.weight',
      'output.weight',
    ]);
    const q = tensors.find((t) => t.name === 'blk.0.attn_q.weight')!;
    expect([q.dims, q.type]).toEqual([[32, 24], 1]);
    const norm = tensors.find((t) => t.name === 'blk.0.attn_q_norm.weight')!;
    expect([norm.dims, norm.type]).toEqual([[8], 0]);
    for (const t of tensors) expect(t.offset % 32).toBe(0);
    const start = dataStart + q.offset;
    expect(bytes.subarray(start, start + 24 * 32 * 2)).toEqual(encodeTensor('F16', weights.get('model.layers.0.self_attn.q_proj.weight')!));
  });

  it('writes a LoRA adapter with lora_a [r, in] and lora_b [out, r] in HF order', () => {
    const adapter = newAdapter(config, { r: 2, alpha: 6, targets: ['q_proj', 'down_proj'], seed: 2, bStd: 0.1, useRslora: true });
    const bytes = loraGguf(adapter, config);
    const { metadata, tensors, dataStart } = parseGguf(bytes);
    expect(metadata.get('general.type')).toBe('adapter');
    expect(metadata.get('adapter.type')).toBe('lora');
    // rsLoRA scale alpha/√r expressed as llama.cpp's alpha/r.
    expect(metadata.get('adapter.lora.alpha')).toBeCloseTo(6 * Math.sqrt(2), 5);
    expect(tensors.map((t) => [t.name, t.dims])).toEqual([
      ['blk.0.attn_q.weight.lora_a', [32, 2]],
      ['blk.0.attn_q.weight.lora_b', [2, 24]],
      ['blk.0.ffn_down.weight.lora_a', [48, 2]],
      ['blk.0.ffn_down.weight.lora_b', [2, 32]],
    ]);
    const b = tensors[3];
    expect(bytes.subarray(dataStart + b.offset, dataStart + b.offset + 32 * 2 * 4)).toEqual(encodeTensor('F32', adapter.layers[0].down_proj!.b));
  });
});
