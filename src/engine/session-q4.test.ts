// A q4 session (every matrix 4-bit: MatMulNBits, GatherBlockQuantized) against the plain float32
// session fed the dequantized weights (the same model, so only the ops and the layout can differ:
// ~1e-6), and against the original float32 weights (the quality cost of 4-bit weights, reported).
// LoRA runs float32 on top of the 4-bit base: an adapter on q4 equals it on the dequantized base.
// A q4f16 session (the same codes, float16 scales and norm vectors; in the fused decoder float16
// activations, KV cache and LoRA, as transformers.js' q4f16 models run) against the q4 one, fed the same
// tokens: the same model up to float16 rounding (measured 1.5e-3–2.1e-3 here on the CPU EP;
// webgpu-node.test.ts has the GPU kernels'). Its plain decoder runs float32, cast around each 4-bit product.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import type { Qwen3Config } from '../model/config.ts';
import { newAdapter } from '../model/peft.ts';
import { dequantizeQ4, quantizeQ4 } from '../model/q4.ts';
import { layoutBytes, transposeMatrix, weightLayout } from '../model/qwen3/layout.ts';
import { decoderLoraInputs } from '../model/qwen3/merge-graph.ts';
import * as names from '../model/qwen3/names.ts';
import { loraSites, loraTargets, qwen3TensorShapes } from '../model/tensors.ts';
import { relativeError } from '../testing/numerics.ts';
import { f32, type DeviceTensor } from './runtime.ts';
import { argmax } from './sampling.ts';
import { nodeRuntime } from './runtime-node.ts';
import { Qwen3Session, type Qwen3SessionOptions } from './session.ts';
import { parseTrainConfig } from './train-config.ts';
import { LoraTrainer, sessionWeights } from './trainer.ts';

const sessions: Qwen3Session[] = [];
afterAll(async () => {
  for (const s of sessions) await s.release();
});
async function load(config: Qwen3Config, weights: Map<string, Float32Array>, options: Qwen3SessionOptions) {
  const s = await Qwen3Session.load(nodeRuntime, config, weights, options);
  sessions.push(s);
  return s;
}

/** The model a q4 layout holds: every matrix replaced by dequant(quant(W)). */
function dequantized(config: Qwen3Config, weights: Map<string, Float32Array>): Map<string, Float32Array> {
  const shapes = qwen3TensorShapes(config);
  return new Map(
    [...weights].map(([name, w]) => {
      const dims = shapes.get(name)!;
      return [name, dims.length === 2 ? dequantizeQ4(quantizeQ4(w, dims[0]!, dims[1]!, name), dims[0]!, dims[1]!) : w];
    }),
  );
}

const prompt = [7644, 872, 198, 5707, 11, 1879, 0, 7645, 198, 7644];
async function logitsOf(session: Qwen3Session): Promise<Float32Array[]> {
  await session.reset();
  const out = [await session.forward(prompt.slice(0, 6))];
  for (const id of prompt.slice(6)) out.push(await session.forward([id]));
  return out;
}
const worst = (got: Float32Array[], want: Float32Array[]) => Math.max(...got.map((g, i) => relativeError(g, want[i]!)));

/** Greedy continuation of the prompt, `steps` tokens. */
async function greedy(session: Qwen3Session, steps: number): Promise<number[]> {
  await session.reset();
  let logits = await session.forward(prompt);
  const ids: number[] = [];
  for (let i = 0; i < steps; i++) {
    ids.push(argmax(logits));
    logits = await session.forward([ids.at(-1)!]);
  }
  return ids;
}

// hidden 64 and intermediate 128: every matrix row is whole blocks of 32. A vocabulary of 8,000 rows
// keeps each load (and its quantization) short; the real 151,936 is the e2e's and the layout tests'.
const untied = { ...tinyModelConfig({ untied: true }), vocabSize: 8_000 };
const tied = { ...tinyModelConfig(), vocabSize: 8_000 };

describe.each(['plain', 'fused'] as const)('a q4 session, %s decoder', (decoder) => {
  it.each([
    ['untied, vocabulary in 3 chunks', untied, 3_000 * 32],
    ['tied (one tensor is the embedding and the LM head), unsplit', tied, undefined],
  ] as const)('%s: the logits of the dequantized model (float32 graph) within 1e-5', async (_, config, maxBindingBytes) => {
    const weights = tinyModelWeights(config, 11);
    const q4 = await load(config, weights, { weightDtype: 'q4', maxBindingBytes, decoder });
    expect(q4.layout.chunks.length).toBe(maxBindingBytes ? 3 : 1);
    const reference = await load(config, dequantized(config, weights), { decoder: 'plain' });
    expect(worst(await logitsOf(q4), await logitsOf(reference))).toBeLessThan(1e-5);
    expect(q4.memory().weights).toBe(layoutBytes(config, q4.layout));
    expect(q4.memory().weights / reference.memory().weights).toBeCloseTo(5 / 32, 2);
  });

  it('an adapter on the q4 base equals it on the dequantized base, added or adopted; off again, the base', async () => {
    const weights = tinyModelWeights(untied, 12);
    const adapter = newAdapter(untied, { r: 4, alpha: 8, targets: [...loraTargets], seed: 5, bStd: 0.05 });
    const q4 = await load(untied, weights, { weightDtype: 'q4', decoder });
    const reference = await load(untied, dequantized(untied, weights), { decoder: 'plain' });
    const base = await logitsOf(q4);
    for (const s of [q4, reference]) {
      await s.addAdapter('a', adapter);
      await s.useAdapter('a');
    }
    const withAdapter = await logitsOf(q4);
    expect(worst(withAdapter, await logitsOf(reference))).toBeLessThan(1e-5);
    expect(worst(withAdapter, base)).toBeGreaterThan(1e-2); // the adapter changes the logits
    // Adopted (a trainer's matrices already on the device, trained-adapter.ts): the same logits.
    const matrices = new Map([...loraSites(untied, adapter.config.targets)].flatMap(({ layer, target }) => {
      const pair = adapter.layers[layer]![target]!;
      return [[names.loraA(layer, target), pair.a], [names.loraB(layer, target), pair.b]] as const;
    }));
    const transposed: Record<string, DeviceTensor> = {};
    for (const { input, dims, matrix } of decoderLoraInputs(untied, adapter.config.targets, 4)) {
      transposed[input] = await nodeRuntime.upload(f32(dims, transposeMatrix(matrices.get(matrix)!, dims[1], dims[0])));
    }
    await q4.adoptAdapter('adopted', adapter.config, transposed);
    await q4.useAdapter('adopted');
    expect(worst(await logitsOf(q4), withAdapter)).toBeLessThan(1e-6);
    await q4.useAdapter(null);
    expect(worst(await logitsOf(q4), base)).toBe(0);
  });
});

describe('a q4 session refuses what needs float weights', () => {
  it('merging an adapter and training, naming the 4-bit weights; nothing is changed', async () => {
    const weights = tinyModelWeights(tied, 13);
    const q4 = await load(tied, weights, { weightDtype: 'q4', graphs: 'lazy' });
    const before = await logitsOf(q4);
    const adapter = newAdapter(tied, { r: 2, alpha: 4, targets: ['q_proj'], seed: 1, bStd: 0.1 });
    const refusal = /needs float32 or float16 base weights, and this model is loaded with 4-bit ones \(q4: .*model\.embed_tokens\.weight\^q4\.packed\); load it in f16 or f32/;
    await expect(q4.mergeAdapter(adapter)).rejects.toThrow(refusal);
    await expect(q4.mergeAdapter(adapter)).rejects.toThrow(/^Qwen3Session\.mergeAdapter: merging an adapter needs/);
    const sft = parseTrainConfig(readFileSync(new URL('../../configs/sft.yaml', import.meta.url), 'utf8'), 'configs/sft.yaml');
    const train = LoraTrainer.create({ runtime: nodeRuntime, model: tied, ...sessionWeights(q4), start: { adapter }, optimizer: sft.optimizer, dropout: 0, seed: 1 });
    await expect(train).rejects.toThrow(/^LoraTrainer: training needs float32 or float16 base weights/);
    expect(await logitsOf(q4)).toEqual(before);
  });

  it('a model whose matrices are not whole blocks of 32 does not load in q4, naming the tensor', async () => {
    const odd = { ...tinyModelConfig({ intermediate: 96 + 16 }), vocabSize: 8_000 };
    await expect(Qwen3Session.load(nodeRuntime, odd, tinyModelWeights(odd, 1), { weightDtype: 'q4' })).rejects.toThrow(
      'weightLayout: model.layers.0.mlp.down_proj.weight [64, 112] has 112 columns, not a multiple of the 4-bit block of 32: this model cannot be loaded in q4',
    );
    expect(() => weightLayout(odd, { weightDtype: 'float16' })).not.toThrow();
  });
});

describe('the quality cost of 4-bit weights (tiny seeded model, against its float32 weights)', () => {
  it('logit error and greedy agreement over 20 steps, reported', async () => {
    const weights = tinyModelWeights(untied, 21);
    const q4 = await load(untied, weights, { weightDtype: 'q4' });
    const exact = await load(untied, weights, { decoder: 'plain' });
    const [got, want] = [await logitsOf(q4), await logitsOf(exact)];
    const maxAbs = Math.max(...got.map((g, i) => g.reduce((m, v, j) => Math.max(m, Math.abs(v - want[i]![j]!)), 0)));
    const relative = worst(got, want);
    const norm = (v: Float32Array[]) => Math.sqrt(v.reduce((sum, x) => sum + x.reduce((a, y) => a + y * y, 0), 0));
    const rms = norm(got.map((g, i) => g.map((v, j) => v - want[i]![j]!))) / norm(want);
    const [a, b] = [await greedy(q4, 20), await greedy(exact, 20)];
    const same = a.filter((id, i) => id === b[i]).length;
    const first = a.findIndex((id, i) => id !== b[i]);
    console.log(
      `q4 vs float32 (tiny random, hidden 64, 2 layers): max |Δlogit| ${maxAbs.toFixed(3)} (relative to max |logit| ${relative.toFixed(3)}), ` +
        `‖Δ‖/‖logits‖ ${rms.toFixed(3)}; greedy: ${same} of 20 tokens equal, first difference at step ${first < 0 ? 'none' : first}`,
    );
    // Blocks err by up to half a step (|scale| ≈ max|w|/7.5 over 32 normal weights, ~8 % of σ RMS):
    // a random N(0, 0.1²) model has no margin between its top logits, so this is a cost, not 1e-5 noise.
    expect(relative).toBeGreaterThan(1e-3);
    expect(rms).toBeLessThan(0.5);
  });
});

describe.each(['fused', 'plain'] as const)('a q4f16 session, %s decoder', (decoder) => {
  const TOLERANCE = 1e-2;
  it.each([
    ['untied, vocabulary in 3 chunks', untied, 3_000 * 32],
    ['tied, unsplit', tied, undefined],
  ] as const)(`%s: the q4 session's logits within ${TOLERANCE}, its greedy token first; float16 scales, norms and (fused) KV cache`, async (_, config, maxBindingBytes) => {
    const weights = tinyModelWeights(config, 11);
    const q4 = await load(config, weights, { weightDtype: 'q4', maxBindingBytes, decoder });
    const half = await load(config, weights, { weightDtype: 'q4f16', maxBindingBytes, decoder });
    expect(half.layout.chunks.length).toBe(maxBindingBytes ? 3 : 1);
    const [got, want] = [await logitsOf(half), await logitsOf(q4)];
    expect(worst(got, want)).toBeLessThan(TOLERANCE);
    expect(worst(got, want)).toBeGreaterThan(0); // float16 does round
    expect(argmax(got[0]!)).toBe(argmax(want[0]!));
    const matrix = 'model.layers.0.mlp.up_proj.weight';
    expect([names.q4(matrix, 'packed'), names.q4(matrix, 'scales'), 'model.norm.weight'].map((input) => half.weights.get(input)!.type)).toEqual(['uint8', 'float16', 'float16']);
    expect(half.memory().weights).toBe(layoutBytes(config, half.layout));
    // Per 32 weights: 16 bytes of codes and a 2-byte scale, against q4's 4-byte one.
    expect(half.memory().weights / q4.memory().weights).toBeCloseTo(18 / 20, 2);
    if (decoder === 'fused') expect(half.memory().kvCache).toBe(q4.memory().kvCache / 2);
  });

  it(`an adapter (fused: float16 branches on the float16 stream) within ${TOLERANCE} of it on the q4 session; off again, the base`, async () => {
    const weights = tinyModelWeights(untied, 12);
    const adapter = newAdapter(untied, { r: 4, alpha: 8, targets: [...loraTargets], seed: 5, bStd: 0.05 });
    const q4 = await load(untied, weights, { weightDtype: 'q4', decoder });
    const half = await load(untied, weights, { weightDtype: 'q4f16', decoder });
    const base = await logitsOf(half);
    for (const s of [q4, half]) {
      await s.addAdapter('a', adapter);
      await s.useAdapter('a');
    }
    const withAdapter = await logitsOf(half);
    expect(worst(withAdapter, await logitsOf(q4))).toBeLessThan(TOLERANCE);
    expect(worst(withAdapter, base)).toBeGreaterThan(1e-1); // the adapter changes the logits
    expect([half.activations, half.memory().lora / q4.memory().lora]).toEqual(decoder === 'fused' ? ['float16', 0.5] : ['float32', 1]);
    // A trainer's adapter (float32 on the device) is not taken over by float16 graphs: it says what they read.
    const a = names.transposed(names.loraA(0, 'q_proj'));
    const adopted = Object.fromEntries(await Promise.all(
      [...decoderLoraInputs(untied, ['q_proj'], 4)].map(async ({ input, dims }) => [input, await nodeRuntime.upload(f32(dims, new Float32Array(dims[0] * dims[1])))] as const),
    ));
    if (decoder === 'fused') await expect(half.adoptAdapter('trained', { ...adapter.config, targets: ['q_proj'] }, adopted)).rejects.toThrow(`Qwen3Session.adoptAdapter: tensor ${a} is float32 [64, 4], float16 [64, 4] expected`);
    for (const t of Object.values(adopted)) nodeRuntime.release(t);
    // A value past float16's range is refused by name (fused), the adapter running before kept.
    const huge = newAdapter(untied, { r: 4, alpha: 8, targets: ['v_proj'], seed: 6, bStd: 0.05 });
    huge.layers[1]!.v_proj!.b[5] = 1e6;
    if (decoder === 'fused') await expect(half.addAdapter('huge', huge)).rejects.toThrow(/adapter tensor \S*lora\.1\.v_proj\.B\S* holds 1000000 at element \d+, past float16's range .*load the model in q4/);
    expect(worst(await logitsOf(half), withAdapter)).toBe(0);
    await half.useAdapter(null);
    expect(worst(await logitsOf(half), base)).toBe(0);
  });
});

describe('a q4f16 session refuses what needs float weights', () => {
  it('merging an adapter, naming q4f16; nothing is changed', async () => {
    const half = await load(tied, tinyModelWeights(tied, 13), { weightDtype: 'q4f16', graphs: 'lazy' });
    const before = await logitsOf(half);
    const adapter = newAdapter(tied, { r: 2, alpha: 4, targets: ['q_proj'], seed: 1, bStd: 0.1 });
    await expect(half.mergeAdapter(adapter)).rejects.toThrow(/loaded with 4-bit ones \(q4f16: every matrix as MatMulNBits codes and scales/);
    expect(await logitsOf(half)).toEqual(before);
  });

  it('a model whose matrices are not whole blocks of 32, naming the tensor and q4f16', () => {
    const odd = { ...tinyModelConfig({ intermediate: 96 + 16 }), vocabSize: 8_000 };
    expect(() => weightLayout(odd, { weightDtype: 'q4f16' })).toThrow(/down_proj\.weight \[64, 112\] has 112 columns, not a multiple of the 4-bit block of 32: this model cannot be loaded in q4f16/);
  });
});
