import { describe, expect, it } from 'vitest';
import { parseQwen3Config } from '../config.ts';
import { qwen3TensorShapes } from '../tensors.ts';
import { estimateLoad } from './estimate.ts';
import { QWEN3_06B_CONFIG as qwen3_06b } from '../../testing/qwen3-configs.ts';

// WebGPU's default limits, what an adapter grants without asking for more.
const defaultLimits = { maxBufferSize: 268_435_456, maxStorageBufferBindingSize: 134_217_728 };

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

  it('agrees with the loader’s own tensor list (src/model/tensors.ts)', () => {
    const config = parseQwen3Config({ ...qwen3_06b, tie_word_embeddings: false, rms_norm_eps: 1e-6, rope_theta: 1e6 });
    const shapes = [...qwen3TensorShapes(config).values()];
    const weights = shapes.reduce((sum, shape) => sum + shape.reduce((a, b) => a * b, 1), 0);
    const estimate = estimateLoad({ ...qwen3_06b, tie_word_embeddings: false }, 'f16', defaultLimits);
    expect(estimate.totalBytes).toBe(weights * 2);
    expect(estimate.tensorCount).toBe(shapes.length);
  });

  it('f16 halves the sizes and needs fewer vocabulary chunks; a roomy GPU needs none', () => {
    const f16 = estimateLoad(qwen3_06b, 'f16', defaultLimits);
    expect(f16.largestTensor.bytes).toBe(311_164_928);
    expect(f16.kvCacheBytesPer1kTokens).toBe(117_440_512);
    // 128 MiB / 2048-byte rows = 65,536 rows; 151,936 / 65,536 = 2.3 → 3.
    expect(f16.vocabChunks).toBe(3);
    const roomy = estimateLoad(qwen3_06b, 'f32', { maxBufferSize: 2 ** 32, maxStorageBufferBindingSize: 2 ** 30 });
    expect(roomy.vocabChunks).toBe(1);
    // maxBufferSize bounds too: 64 MiB buffers → 16,384 rows of 4096 bytes → 10 chunks.
    expect(estimateLoad(qwen3_06b, 'f32', { maxBufferSize: 2 ** 26, maxStorageBufferBindingSize: 2 ** 30 }).vocabChunks).toBe(10);
  });

  it('refuses, naming the tensor, when a projection exceeds the binding limit', () => {
    // gate_proj is 3072 × 1024 × 4 = 12,582,912 bytes, over an 8 MiB limit; projections are not split.
    const estimate = estimateLoad(qwen3_06b, 'f32', { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 23 });
    expect(estimate.refusal).toBe(
      'model.layers.0.mlp.gate_proj.weight [3072, 1024] is 12582912 bytes in f32, over this GPU\'s buffer limit of 8388608 bytes ' +
        '(maxStorageBufferBindingSize 8388608, maxBufferSize 1073741824) and cannot be split',
    );
  });
});
