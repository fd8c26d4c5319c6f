// Qwen3Session on the fused graphs (its default where head_dim allows) against the same session on
// the plain ones (decoder 'plain', itself checked against the float64 reference and llama.cpp):
// float16 weights and vocabulary chunks give the plain logits, greedy generation picks the same
// tokens, and the KV cache is allocated once — no upload or release while a sequence decodes
// within its capacity, one regrowth (carrying the filled rows) when it outgrows it, kept by reset.
import { afterAll, describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import { newAdapter } from '../model/peft.ts';
import { loraTargets } from '../model/tensors.ts';
import { relativeError } from '../testing/numerics.ts';
import { FIRST_CAPACITY } from './fused-cache.ts';
import { generate } from './generate.ts';
import type { Runtime } from './runtime.ts';
import { nodeRuntime } from './runtime-node.ts';
import { argmax, defaultSampling } from './sampling.ts';
import { Qwen3Session, type Qwen3SessionOptions } from './session.ts';
import { countingRuntime } from '../testing/counting-runtime.ts';

const config = tinyModelConfig({ hidden: 64, headDim: 16, intermediate: 96 });
const weights = tinyModelWeights(config, 81);
const adapter = newAdapter(config, { r: 2, alpha: 4, targets: [...loraTargets], seed: 9, bStd: 0.2 });
const ids = [151644, 872, 198, 40000, 151935, 3, 2152, 26865, 9190, 151645, 198];

const sessions: Qwen3Session[] = [];
afterAll(async () => {
  for (const s of sessions) await s.release();
});
async function load(options: Qwen3SessionOptions = {}, runtime: Runtime = nodeRuntime) {
  const s = await Qwen3Session.load(runtime, config, weights, options);
  sessions.push(s);
  return s;
}

/** Logits of a prefill of `ids[0..5)`, then of single decode steps over the rest. */
async function logitsOf(session: Qwen3Session, tokens: readonly number[]): Promise<Float32Array[]> {
  await session.reset();
  const out = [await session.forward(tokens.slice(0, 5))];
  for (const id of tokens.slice(5)) out.push(await session.forward([id]));
  return out;
}


describe('Qwen3Session on the fused graphs', () => {
  it('is the default where head_dim allows it; plain otherwise, and decoder "fused" there names why not', async () => {
    expect((await load({ graphs: 'lazy' })).fused).toBe(true);
    expect((await load({ graphs: 'lazy', decoder: 'plain' })).fused).toBe(false);
    const narrow = tinyModelConfig({ hidden: 32, headDim: 8, intermediate: 48 });
    const s = await Qwen3Session.load(nodeRuntime, narrow, tinyModelWeights(narrow, 1), { graphs: 'lazy' });
    sessions.push(s);
    expect(s.fused).toBe(false);
    await expect(Qwen3Session.load(nodeRuntime, narrow, tinyModelWeights(narrow, 1), { decoder: 'fused' })).rejects.toThrow(
      /decoder 'fused' cannot run this model: head_dim 8 is not a multiple of 16.*use decoder 'plain'/,
    );
  });

  it.each([
    ['float32, unsplit', {}],
    ['float16, 5 vocabulary chunks', { weightDtype: 'float16', maxBindingBytes: Math.ceil(config.vocabSize / 5) * config.hiddenSize * 4 }],
  ] satisfies Array<[string, Qwen3SessionOptions]>)('%s: logits equal the plain graphs within 1e-5, base and adapter', async (_, options) => {
    const fused = await load(options);
    const plain = await load({ ...options, decoder: 'plain' });
    for (const a of [null, adapter]) {
      await fused.setAdapter(a);
      await plain.setAdapter(a);
      const want = await logitsOf(plain, ids);
      const got = await logitsOf(fused, ids);
      got.forEach((logits, i) => expect(relativeError(logits, want[i]!)).toBeLessThan(1e-5));
    }
  });

  it('greedy generation picks the plain graphs’ tokens over 20 steps, base and adapter', async () => {
    const fused = await load();
    const plain = await load({ decoder: 'plain' });
    const greedy = { ...defaultSampling, greedy: true, maxNewTokens: 20, stopTokens: [] };
    for (const a of [null, adapter]) {
      await fused.setAdapter(a);
      await plain.setAdapter(a);
      const want = await generate(plain, ids, greedy);
      expect(want.ids).toHaveLength(20);
      expect((await generate(fused, ids, greedy)).ids).toEqual(want.ids);
    }
  });

  it.each([
    ['fused, float32', {}],
    ['fused, float16 in 5 vocabulary chunks', { weightDtype: 'float16', maxBindingBytes: Math.ceil(config.vocabSize / 5) * config.hiddenSize * 4 }],
    ['plain', { decoder: 'plain' }],
  ] satisfies Array<[string, Qwen3SessionOptions]>)('%s: the argmax made on the device is the argmax of the logits at every step, and greedy generate uses it', async (_, options) => {
    const session = await load(options);
    const greedy = { ...defaultSampling, greedy: true, maxNewTokens: 12, stopTokens: [] };
    for (const a of [null, adapter]) {
      await session.setAdapter(a);
      const want = (await logitsOf(session, ids)).map((logits) => argmax(logits));
      await session.reset();
      const got = [await session.forwardGreedy(ids.slice(0, 5))];
      for (const id of ids.slice(5)) got.push(await session.forwardGreedy([id]));
      expect(got).toEqual(want);
      // The logits alone (forward, sampleToken's argmax) pick what generate picks through forwardGreedy.
      const viaLogits = await generate({ forward: (t) => session.forward(t), reset: () => session.reset() }, ids, greedy);
      let onDevice = 0;
      const counted = { forward: () => Promise.reject(new Error('greedy read the logits')), reset: () => session.reset(), forwardGreedy: (t: readonly number[]) => (onDevice++, session.forwardGreedy(t)) };
      expect((await generate(counted, ids, greedy)).ids).toEqual(viaLogits.ids);
      expect(onDevice).toBe(greedy.maxNewTokens);
      expect(new Set(viaLogits.ids).size).toBeGreaterThan(1);
    }
  });

  it('allocates the KV cache and a decode step\'s inputs once: nothing uploaded or released per step, one regrowth past the capacity, kept by reset', async () => {
    const { runtime, counts } = countingRuntime();
    const fused = await load({}, runtime);
    const plain = await load({ decoder: 'plain' });
    const perPosition = 2 * config.numLayers * config.numKvHeads * config.headDim * 4;
    const tokens = Array.from({ length: FIRST_CAPACITY + 6 }, (_, i) => (i * 7919) % 150_000);
    const prefill = FIRST_CAPACITY - 4;
    const before = { ...counts };
    const first = await fused.forward(tokens.slice(0, prefill));
    // K and V per layer and the two RoPE tables.
    expect(counts.upload - before.upload).toBe(2 * config.numLayers + 2);
    expect(fused.memory().kvCache).toBe(FIRST_CAPACITY * perPosition);
    const firstStep = { ...counts };
    await fused.forward([tokens[prefill]!]);
    // The decode step's token ids and seqlens_k, kept on the device from now on.
    expect(counts).toEqual({ ...firstStep, upload: firstStep.upload + 2 });
    const steady = { ...counts };
    const steps = tokens.slice(prefill + 1, FIRST_CAPACITY);
    for (const id of steps) await fused.forward([id]);
    // Each step writes the two over; nothing is made or freed.
    expect(counts).toEqual({ ...steady, write: steady.write + 2 * steps.length });
    let last = await fused.forward([tokens[FIRST_CAPACITY]!]); // outgrows the capacity: one regrowth
    expect(counts.upload - steady.upload).toBe(2 * config.numLayers + 2);
    expect(counts.release - steady.release).toBe(2 * config.numLayers + 2);
    expect(fused.memory()).toMatchObject({ kvCache: 2 * FIRST_CAPACITY * perPosition, rotary: 2 * 2 * FIRST_CAPACITY * (config.headDim / 2) * 4 });
    for (const id of tokens.slice(FIRST_CAPACITY + 1)) last = await fused.forward([id]);
    expect(fused.cachedTokens).toBe(tokens.length);
    // The rows carried over and those written after equal the plain graphs' whole-sequence prefill.
    expect(relativeError(first, await plain.forward(tokens.slice(0, prefill)))).toBeLessThan(1e-5);
    await plain.reset();
    expect(relativeError(last, await plain.forward(tokens))).toBeLessThan(1e-5);
    const kept = { ...counts };
    await fused.reset();
    expect(fused.cachedTokens).toBe(0);
    expect(fused.memory().kvCache).toBe(2 * FIRST_CAPACITY * perPosition);
    await plain.reset();
    expect(relativeError(await fused.forward(ids), await plain.forward(ids))).toBeLessThan(1e-5);
    expect(counts).toEqual(kept);
  });
});
