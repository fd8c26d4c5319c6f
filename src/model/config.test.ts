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

  describe('RoPE base: rope_theta (transformers < 5) or rope_parameters (≥ 5)', () => {
    const { rope_theta: _, rope_scaling: __, ...v5 } = qwen3_06b;
    // What transformers 5.18's Qwen3Config(rope_theta=1e6).to_json_string() writes: no rope_theta, no rope_scaling.
    const written = { ...v5, rope_parameters: { rope_theta: 1000000.0, rope_type: 'default' } };

    it('reads the same config from either shape, and from both when they agree', () => {
      const v4 = parseQwen3Config(qwen3_06b);
      expect(v4.ropeTheta).toBe(1e6);
      expect(parseQwen3Config(written)).toEqual(v4);
      expect(parseQwen3Config({ ...written, rope_theta: 1e6 })).toEqual(v4);
      // A legacy "type" key, and a rope_parameters that only names the type next to a top-level rope_theta.
      expect(parseQwen3Config({ ...v5, rope_parameters: { type: 'default', rope_theta: 5e5 } }).ropeTheta).toBe(5e5);
      expect(parseQwen3Config({ ...v5, rope_theta: 5e5, rope_parameters: { rope_type: 'default' } }).ropeTheta).toBe(5e5);
      expect(parseQwen3Config({ ...qwen3_06b, rope_parameters: null }).ropeTheta).toBe(1e6);
    });

    it.each([
      [{ ...written, rope_theta: 10000 }, 'rope_theta 10000 and rope_parameters.rope_theta 1000000 disagree'],
      [{ ...v5, rope_parameters: { rope_type: 'yarn', rope_theta: 1e6 } }, 'rope_parameters.rope_type is "yarn", only "default"'],
      [{ ...v5, rope_parameters: { rope_type: 'default', rope_theta: 1e6, factor: 4 } }, 'rope_parameters has "factor": only plain RoPE'],
      [{ ...v5, rope_parameters: { rope_type: 'default' } }, 'missing field "rope_parameters"."rope_theta" (or "rope_theta")'],
      [{ ...v5, rope_parameters: { rope_theta: '1e6' } }, 'rope_parameters: field "rope_theta" is "1e6", expected a positive number'],
      [{ ...v5, rope_parameters: [1e6] }, 'field "rope_parameters" is [1000000], expected an object'],
      [v5, 'missing field "rope_theta" (or "rope_parameters"."rope_theta")'],
    ])('refuses %j', (config, message) => {
      expect(() => parseQwen3Config(config, 'Qwen3-0.6B/config.json')).toThrow(`Qwen3-0.6B/config.json: `);
      expect(() => parseQwen3Config(config, 'Qwen3-0.6B/config.json')).toThrow(message);
    });
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
