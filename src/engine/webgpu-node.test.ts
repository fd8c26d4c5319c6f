// onnxruntime's WebGPU EP, the kernels the browser runs, through onnxruntime-node on native Dawn:
// where a Vulkan driver with shader-f16 is installed (Mesa 25's lavapipe, which .ci/run installs;
// Debian 12's own Mesa 22.3 lacks what Dawn asks of a driver). SwiftShader, the e2e tests' browser
// adapter, has no shader-f16, so the float16 paths never run in e2e, and its q4 LM head takes the
// tiled MatMulNBits kernel where a GPU's takes the one-row one. Skipped, saying why, where
// nodeWebGpuRefusal finds no such adapter.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import { newAdapter } from '../model/peft.ts';
import { float16Layout, relativeError } from '../testing/numerics.ts';
import { referenceLogits } from '../testing/qwen3-reference.ts';
import { makeBatch } from './batches.ts';
import type { Runtime } from './runtime.ts';
import { createNodeRuntime, nodeRuntime, nodeWebGpuRefusal } from './runtime-node.ts';
import { Qwen3Session, type Qwen3SessionOptions } from './session.ts';
import { loadBundledTokenizer } from './tokenizer-node.ts';
import { parseTrainConfig } from './train-config.ts';
import { LoraTrainer, sessionWeights } from './trainer.ts';

const refusal = nodeWebGpuRefusal();
if (refusal) console.warn(`webgpu-node.test.ts skipped: ${refusal}. Mesa 25's lavapipe (Debian: mesa-vulkan-drivers; on Debian 12 from its backports, as .ci/run installs it) gives onnxruntime's WebGPU EP an adapter with shader-f16.`);
const gpu = createNodeRuntime({ executionProvider: 'webgpu' });
const sessions: Qwen3Session[] = [];
afterAll(async () => {
  for (const s of sessions) await s.release();
});
async function load(runtime: Runtime, config: ReturnType<typeof tinyModelConfig>, weights: Map<string, Float32Array>, options: Qwen3SessionOptions) {
  const s = await Qwen3Session.load(runtime, config, weights, { graphs: 'lazy', ...options });
  sessions.push(s);
  return s;
}

describe.skipIf(refusal !== null)(`onnxruntime's WebGPU EP through onnxruntime-node${refusal ? ` (skipped: ${refusal})` : ''}`, () => {
  describe('inference', () => {
    const config = tinyModelConfig({ hidden: 64, layers: 2 });
    const weights = tinyModelWeights(config, 23);
    const ids = [151644, 872, 198, 1000, 2000, 3000, 4000, 5000];
    /** The last position's logits after a prefill of six ids and two decode steps. */
    const logits = async (s: Qwen3Session) => {
      await s.forward(ids.slice(0, 6));
      await s.forward([ids[6]!]);
      return s.forward([ids[7]!]);
    };
    const exact = referenceLogits(config, weights, ids);

    it.each(['plain', 'fused'] as const)('float32 weights (%s decoder): the exact logits, as on the CPU EP', async (decoder) => {
      const got = await logits(await load(gpu, config, weights, { decoder }));
      expect(relativeError(got, exact)).toBeLessThan(1e-5); // measured 5.1e-7
    });

    it.each(['plain', 'fused'] as const)('float16 weights (%s decoder): products summed in float16, as testing/qwen3-reference emulates them', async (decoder) => {
      const got = await logits(await load(gpu, config, weights, { decoder, weightDtype: 'float16' }));
      const stored = relativeError(referenceLogits(config, float16Layout(weights), ids), exact); // the rounding of the weights alone: 9.2e-4
      const emulated = relativeError(referenceLogits(config, float16Layout(weights), ids, null, 'float16'), exact); // 3.4e-3
      const measured = relativeError(got, exact); // 3.3e-3
      expect(measured).toBeLessThan(1e-2); // e2e/engine-f16's bound
      expect(measured).toBeGreaterThan(2 * stored); // the sums really are float16 (the CPU EP's equal `stored`)
      expect(measured / emulated).toBeGreaterThan(0.5);
      expect(measured / emulated).toBeLessThan(2);
    });

    // The EP's one-row MatMulNBits kernel, which a GPU's decode runs for every projection and the LM head
    // ('matmul'), and its tiled kernel, which a fallback adapter's LM head takes ('rows': 4 rows).
    it.each(['matmul', 'rows'] as const)('q4 weights (fused, the %s LM head): the CPU EP’s logits', async (head) => {
      const want = await logits(await load(nodeRuntime, config, weights, { decoder: 'fused', weightDtype: 'q4' }));
      const got = await logits(await load(gpu, config, weights, { decoder: 'fused', weightDtype: 'q4', head }));
      expect(relativeError(got, want)).toBeLessThan(1e-5); // measured 4.8e-7 for both
      expect(relativeError(got, exact)).toBeGreaterThan(1e-3); // the weights really are 4-bit (0.38 on this random model)
    });

    // q4f16: float16 activations and KV cache, which no browser adapter of the e2e tests can run.
    it.each(['fused', 'plain'] as const)('q4f16 weights (%s decoder): the CPU EP’s q4f16 logits and its q4 ones up to float16 rounding', async (decoder) => {
      const got = await logits(await load(gpu, config, weights, { decoder, weightDtype: 'q4f16' }));
      const cpu = await logits(await load(nodeRuntime, config, weights, { decoder, weightDtype: 'q4f16' }));
      const q4 = await logits(await load(gpu, config, weights, { decoder, weightDtype: 'q4' }));
      // The GPU computes in float16 where the CPU EP widens each op to float32: measured 2.8e-3 fused,
      // 1.7e-3 plain (the CPU EP's q4f16 is 1.1e-3 from q4).
      expect(relativeError(got, cpu)).toBeLessThan(1e-2);
      expect(relativeError(got, q4)).toBeLessThan(1e-2); // 3.2e-3 / 1.9e-3
      expect(relativeError(got, q4)).toBeGreaterThan(relativeError(cpu, q4)); // the GPU's float16 arithmetic rounds more
    });

    it('q4f16 with an adapter (float16 LoRA branches, summed in float16 on the GPU): the CPU EP’s logits up to float16 rounding', async () => {
      const adapter = newAdapter(config, { r: 4, alpha: 8, targets: ['q_proj', 'v_proj', 'down_proj'], seed: 2, bStd: 0.05 });
      const run = async (runtime: Runtime, weightDtype: 'q4' | 'q4f16', tuned = true) => {
        const s = await load(runtime, config, weights, { decoder: 'fused', weightDtype });
        if (tuned) await s.setAdapter(adapter);
        return logits(s);
      };
      const [got, cpu, q4] = [await run(gpu, 'q4f16'), await run(nodeRuntime, 'q4f16'), await run(gpu, 'q4')];
      expect(relativeError(got, cpu)).toBeLessThan(1e-2); // measured 2.2e-3
      expect(relativeError(got, q4)).toBeLessThan(1e-2); // 2.3e-3
      expect(relativeError(got, await run(gpu, 'q4f16', false))).toBeGreaterThan(2e-2); // the branches ran
    });
  });

  it('LoRA training on float16 weights in vocabulary chunks: three steps give the CPU EP’s losses and adapter', async () => {
    const sft = parseTrainConfig(readFileSync(new URL('../../configs/sft.yaml', import.meta.url), 'utf8'), 'configs/sft.yaml');
    const config = tinyModelConfig({ hidden: 32, headDim: 8, intermediate: 48 });
    const weights = tinyModelWeights(config, 9);
    const tokenizer = await loadBundledTokenizer();
    const batch = makeBatch(
      [tokenizer.example('vote online', 'lex: voter registration\nvec: register to vote'), tokenizer.example('rust traits', 'lex: trait bounds')],
      { maxLength: 64, lossOn: 'completion' },
    );
    const start = newAdapter(config, { r: 4, alpha: 8, targets: sft.lora.targets, seed: 3, bStd: 0.1 });
    const train = async (runtime: Runtime, session: Qwen3Session) => {
      const trainer = await LoraTrainer.create({ runtime, model: config, ...sessionWeights(session), start: { adapter: start }, optimizer: sft.optimizer, dropout: 0.1, seed: 5 });
      const losses: number[] = [];
      for (let step = 0; step < 3; step++) losses.push((await trainer.step([batch], 1e-2)).loss);
      const adapter = await trainer.adapter();
      await trainer.release();
      return { losses, adapter };
    };
    const maxBindingBytes = Math.ceil(config.vocabSize / 4) * config.hiddenSize * 4;
    const half = await load(gpu, config, weights, { weightDtype: 'float16', maxBindingBytes });
    expect(half.layout).toMatchObject({ dtype: 'float16', chunks: { length: 4 } });
    const got = await train(gpu, half);
    const want = await train(nodeRuntime, await load(nodeRuntime, config, float16Layout(weights), {}));
    // The train step casts the weights to float32 at use: float32 sums on both, in other orders.
    got.losses.forEach((loss, i) => expect(Math.abs(loss - want.losses[i]!)).toBeLessThan(1e-6 * loss)); // measured 8e-8
    expect(got.losses[2]).toBeLessThan(got.losses[0]!);
    let worst = 0;
    want.adapter.layers.forEach((pairs, layer) => {
      for (const [target, pair] of Object.entries(pairs)) {
        for (const matrix of ['a', 'b'] as const) worst = Math.max(worst, relativeError(got.adapter.layers[layer]![target as keyof typeof pairs]![matrix], pair[matrix]));
      }
    });
    expect(worst).toBeLessThan(5e-5); // measured 4.6e-6
  }, 180_000);
});
