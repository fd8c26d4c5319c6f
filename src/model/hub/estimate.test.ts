import { describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../../scripts/make-tiny-model.ts';
import { nodeRuntime } from '../../engine/runtime-node.ts';
import { Qwen3Session } from '../../engine/session.ts';
import { parseQwen3Config } from '../config.ts';
import { weightLayout } from '../qwen3/layout.ts';
import { weightElements } from '../../testing/numerics.ts';
import { estimateLoad, type BufferLimits } from './estimate.ts';
import { QWEN3_06B_CONFIG } from '../../testing/qwen3-configs.ts';

const qwen3_06b = parseQwen3Config(QWEN3_06B_CONFIG);
// The published configs of the larger Qwen3s, as changes to 0.6B's.
const qwen3_1_7b = parseQwen3Config({ ...QWEN3_06B_CONFIG, hidden_size: 2048, intermediate_size: 6144 });
const qwen3_8b = parseQwen3Config({
  ...QWEN3_06B_CONFIG,
  hidden_size: 4096,
  intermediate_size: 12288,
  num_hidden_layers: 36,
  num_attention_heads: 32,
  tie_word_embeddings: false,
});

// WebGPU's default limits, what an adapter grants without asking for more.
const defaultLimits = { maxBufferSize: 268_435_456, maxStorageBufferBindingSize: 134_217_728 };
const MiB = 2 ** 20;

describe('estimateLoad', () => {
  it('Qwen3-0.6B in f32 against a hand computation', () => {
    const estimate = estimateLoad(qwen3_06b, 'f32', defaultLimits);
    // Embedding 151936 × 1024 = 155,582,464 weights. One layer: q 2048×1024 + k, v 1024×1024 each
    // + o 1024×2048 + gate, up, down 3072×1024 each + norms 1024 + 1024 + 128 + 128
    // = 2,097,152 + 2,097,152 + 2,097,152 + 9,437,184 + 2,304 = 15,730,944; 28 layers = 440,466,432;
    // final norm 1,024; tied, so no lm_head. 596,049,920 weights × 4 bytes.
    expect(estimate.totalBytes).toBe(2_384_199_680);
    expect(estimate.largestTensor).toEqual({ name: 'model.embed_tokens.weight', shape: [151936, 1024], bytes: 622_329_856 });
    // K and V × 28 layers × 8 kv heads × 128 × 1024 positions × 4 bytes.
    expect(estimate.kvCacheBytesPer1kTokens).toBe(234_881_024);
    // 128 MiB / 4096-byte rows = 32,768 rows per chunk; 151,936 / 32,768 = 4.6 → 5 chunks.
    expect(estimate.vocabChunks).toBe(5);
    expect(estimate.refusal).toBeNull();
  });

  it('f16 halves the matrices but not the norm vectors, the chunks (they bind the float32 cast) nor the float32 KV cache', () => {
    const f16 = estimateLoad(qwen3_06b, 'f16', defaultLimits);
    // 595,984,384 matrix weights (as q4's case below counts them) and 65,536 norm weights.
    expect(f16.totalBytes).toBe(595_984_384 * 2 + 65_536 * 4);
    expect(2_384_199_680).toBe((595_984_384 + 65_536) * 4); // the f32 total
    expect(f16.largestTensor.bytes).toBe(311_164_928);
    expect(f16.kvCacheBytesPer1kTokens).toBe(234_881_024);
    // What the session builds: the estimate once said 3 here (rows sized in f16).
    expect(f16.vocabChunks).toBe(5);
    expect(estimateLoad(qwen3_06b, 'f32', { maxBufferSize: 2 ** 32, maxStorageBufferBindingSize: 2 ** 30 }).vocabChunks).toBe(1);
    // maxBufferSize bounds too: 64 MiB buffers → 16,384 rows of 4096 bytes → 10 chunks.
    expect(estimateLoad(qwen3_06b, 'f32', { maxBufferSize: 2 ** 26, maxStorageBufferBindingSize: 2 ** 30 }).vocabChunks).toBe(10);
  });

  it('q4: Qwen3-0.6B against a hand computation, the vocabulary chunked by its 512-byte rows of codes', () => {
    const q4 = estimateLoad(qwen3_06b, 'q4', defaultLimits);
    // Matrices 155,582,464 + 28 × 15,728,640 = 595,984,384 weights at 4 bits + a float32 scale per 32
    // (5/8 byte each) = 372,490,240 bytes; norms 28 × 2,304 + 1,024 = 65,536 float32 = 262,144 bytes.
    expect(q4.totalBytes).toBe(372_752_384);
    expect(q4.largestTensor).toEqual({ name: 'model.embed_tokens.weight', shape: [151936, 1024], bytes: 97_239_040 });
    // 128 MiB / 512 bytes = 262,144 rows: the whole vocabulary in one binding.
    expect(q4.vocabChunks).toBe(1);
    expect(q4.kvCacheBytesPer1kTokens).toBe(234_881_024);
    // A model whose intermediate size is not whole blocks of 32 is refused before the download, naming the tensor.
    const odd = estimateLoad({ ...qwen3_06b, intermediateSize: 3000 }, 'q4', defaultLimits);
    expect(odd.refusal).toMatch(/^model\.layers\.0\.mlp\.down_proj\.weight \[1024, 3000\] has 3000 columns, not a multiple of the 4-bit block of 32: this model cannot be loaded in q4 \(this GPU: /);
    expect(odd.vocabChunks).toBe(0);
  });

  it('says the chunks and bytes of the layout the session builds, for several configs, limits and dtypes', () => {
    const configs = [qwen3_06b, qwen3_1_7b, qwen3_8b, { ...qwen3_06b, tieWordEmbeddings: false }, tinyModelConfig({ hidden: 48, headDim: 8 })];
    const limits: BufferLimits[] = [
      defaultLimits,
      { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 30 },
      { maxBufferSize: 300 * MiB, maxStorageBufferBindingSize: 2 ** 31 },
      { maxBufferSize: 2 ** 32, maxStorageBufferBindingSize: 2 ** 32 },
    ];
    let compared = 0;
    for (const config of configs) {
      const { matrices, norms } = weightElements(config);
      for (const limit of limits) {
        for (const [dtype, weightDtype, bytes] of [['f32', 'float32', 4], ['f16', 'float16', 2]] as const) {
          const estimate = estimateLoad(config, dtype, limit);
          const maxBindingBytes = Math.min(limit.maxBufferSize, limit.maxStorageBufferBindingSize);
          if (estimate.refusal) {
            expect(() => weightLayout(config, { maxBindingBytes, weightDtype })).toThrow(estimate.refusal.replace(/ \(this GPU: .*$/, ''));
            continue;
          }
          expect(estimate.vocabChunks).toBe(weightLayout(config, { maxBindingBytes, weightDtype }).chunks.length);
          expect(estimate.totalBytes).toBe(matrices * bytes + norms * 4);
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(30);
  });

  it('agrees with a session loaded under the same limits: chunks and weight bytes on the device', async () => {
    const config = tinyModelConfig({ untied: true });
    const weights = tinyModelWeights(config, 1);
    for (const [dtype, weightDtype, maxBindingBytes] of [['f32', 'float32', 10_000 * 64 * 4], ['f16', 'float16', 50_000 * 64 * 4], ['q4', 'q4', 50_000 * 32]] as const) {
      const estimate = estimateLoad(config, dtype, { maxBufferSize: maxBindingBytes, maxStorageBufferBindingSize: 2 ** 31 });
      const session = await Qwen3Session.load(nodeRuntime, config, weights, { maxBindingBytes, weightDtype });
      try {
        expect(estimate.vocabChunks).toBe(session.layout.chunks.length);
        expect(estimate.vocabChunks).toBeGreaterThan(1);
        expect(estimate.totalBytes).toBe(session.memory().weights);
      } finally {
        await session.release();
      }
    }
  });

  it('refuses Qwen3-8B in f16 before the download: its f16 matrices fit the limit, their float32 casts do not', () => {
    // gate_proj 12,288 × 4,096 is 100,663,296 bytes in f16, under 128 MiB, but the graph binds its
    // float32 cast (201,326,592 bytes): the session's layout refuses it, so the estimate must.
    const limits = { maxBufferSize: 2 ** 32, maxStorageBufferBindingSize: 128 * MiB };
    const estimate = estimateLoad(qwen3_8b, 'f16', limits);
    expect(estimate.refusal).toBe(
      'model.layers.0.mlp.gate_proj.weight [12288, 4096] needs 201326592 bytes in float32, over the binding limit of 134217728 bytes, ' +
        'and only vocabulary tensors can be split (this GPU: maxStorageBufferBindingSize 134217728, maxBufferSize 4294967296)',
    );
    expect(estimate.vocabChunks).toBe(0);
    expect(() => weightLayout(qwen3_8b, { maxBindingBytes: 128 * MiB, weightDtype: 'float16' })).toThrow('gate_proj');
    expect(estimateLoad(qwen3_8b, 'f16', { ...limits, maxStorageBufferBindingSize: 2 ** 30 }).refusal).toBeNull();
  });

  it('sizes a config.json without head_dim (hidden / heads, as the parser defaults it): no NaN', () => {
    const { head_dim: _, ...rest } = QWEN3_06B_CONFIG;
    const estimate = estimateLoad(parseQwen3Config(rest), 'f32', defaultLimits);
    expect(estimate).toEqual(estimateLoad(parseQwen3Config({ ...rest, head_dim: 64 }), 'f32', defaultLimits));
    for (const value of [estimate.totalBytes, estimate.kvCacheBytesPer1kTokens, estimate.vocabChunks]) expect(Number.isInteger(value) && value > 0).toBe(true);
    // head_dim 64: q_proj 1024 → 1024 and K, V 1024 → 512 per layer.
    expect(estimate.kvCacheBytesPer1kTokens).toBe(2 * 28 * 8 * 64 * 1024 * 4);
  });
});
