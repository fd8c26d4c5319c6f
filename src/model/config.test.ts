import { describe, expect, it } from 'vitest';
import { parseQwen3Config } from './config.ts';
import { qwen3TensorShapes, ggufTensorName } from './tensors.ts';
import { QWEN3_06B_CONFIG as qwen3_06b } from '../testing/qwen3-configs.ts';


describe('parseQwen3Config', () => {
  it('reads Qwen3-0.6B, whose q_proj maps 1024 → 2048', () => {
    const config = parseQwen3Config(qwen3_06b);
    expect(config).toMatchObject({ hiddenSize: 1024, headDim: 128, numHeads: 16, numKvHeads: 8, numLayers: 28, tieWordEmbeddings: true });
    const shapes = qwen3TensorShapes(config);
    expect(shapes.get('model.layers.27.self_attn.q_proj.weight')).toEqual([2048, 1024]);
    expect(shapes.get('model.layers.0.self_attn.k_proj.weight')).toEqual([1024, 1024]);
    expect(shapes.get('model.layers.0.self_attn.o_proj.weight')).toEqual([1024, 2048]);
    expect(shapes.has('lm_head.weight')).toBe(false);
    // 0.6B: embedding 151936·1024 + 28 layers, each 4·1024·2048… — the published parameter count is 596M.
    const total = [...shapes.values()].reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
    expect(Math.round(total / 1e6)).toBe(596);
  });

  it('derives head_dim from hidden/heads when absent and honours untied heads', () => {
    const { head_dim: _, ...rest } = qwen3_06b;
    const config = parseQwen3Config({ ...rest, tie_word_embeddings: false });
    expect(config.headDim).toBe(64);
    expect(qwen3TensorShapes(config).get('lm_head.weight')).toEqual([151936, 1024]);
  });

  it.each([
    [{ hidden_size: undefined }, 'missing field "hidden_size"'],
    [{ num_key_value_heads: 3 }, 'num_attention_heads 16 is not a multiple of num_key_value_heads 3'],
    [{ rms_norm_eps: '1e-6' }, 'field "rms_norm_eps" is "1e-6", expected a positive number'],
    [{ model_type: 'llama' }, 'model_type is "llama", expected "qwen3"'],
    [{ rope_scaling: { type: 'yarn', factor: 4 } }, 'rope_scaling'],
    [{ head_dim: 15 }, 'head_dim 15 must be even'],
    [{ tie_word_embeddings: 'yes' }, 'tie_word_embeddings'],
  ])('rejects %j', (change, message) => {
    expect(() => parseQwen3Config({ ...qwen3_06b, ...change }, 'Qwen3-0.6B/config.json')).toThrow(message);
    expect(() => parseQwen3Config({ ...qwen3_06b, ...change }, 'Qwen3-0.6B/config.json')).toThrow('Qwen3-0.6B/config.json');
  });
});

describe('ggufTensorName', () => {
  it('maps HF names to llama.cpp names', () => {
    expect(ggufTensorName('model.layers.3.self_attn.o_proj.weight')).toBe('blk.3.attn_output.weight');
    expect(ggufTensorName('model.layers.0.self_attn.k_norm.weight')).toBe('blk.0.attn_k_norm.weight');
    expect(ggufTensorName('model.layers.1.post_attention_layernorm.weight')).toBe('blk.1.ffn_norm.weight');
    expect(ggufTensorName('lm_head.weight')).toBe('output.weight');
    expect(() => ggufTensorName('model.layers.0.self_attn.rotary_emb.inv_freq')).toThrow('rotary_emb');
  });
});
