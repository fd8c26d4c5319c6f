// The session's device layouts against the plain float32, unsplit one (itself checked against
// the float64 reference in decoder.test.ts): the vocabulary in 5 chunks gives the same logits,
// float16 weights give the logits of the float16-rounded model, and the memory report counts
// what was uploaded.
import { afterAll, describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights, type TinyModelOptions } from '../../scripts/make-tiny-model.ts';
import { roundTo } from '../model/dtype.ts';
import { newAdapter } from '../model/peft.ts';
import { loraTargets, projectionShape } from '../model/tensors.ts';
import { nodeRuntime } from './runtime-node.ts';
import { Qwen3Session, type Qwen3SessionOptions } from './session.ts';

/** max |a − b| / max |b|. */
function relativeError(got: Float32Array, want: Float32Array): number {
  let diff = 0;
  let scale = 0;
  want.forEach((w, i) => {
    diff = Math.max(diff, Math.abs(got[i]! - w));
    scale = Math.max(scale, Math.abs(w));
  });
  return diff / scale;
}

/** Logits of a prefill of `ids[0..6)`, then of single decode steps over the rest. */
async function logitsOf(session: Qwen3Session, ids: readonly number[]): Promise<Float32Array[]> {
  await session.reset();
  const out = [await session.forward(ids.slice(0, 6))];
  for (const id of ids.slice(6)) out.push(await session.forward([id]));
  return out;
}

const sessions: Qwen3Session[] = [];
afterAll(async () => {
  for (const s of sessions) await s.release();
});
async function load(config: ReturnType<typeof tinyModelConfig>, weights: Map<string, Float32Array>, options: Qwen3SessionOptions = {}) {
  const s = await Qwen3Session.load(nodeRuntime, config, weights, options);
  sessions.push(s);
  return s;
}

describe.each([
  ['tied', { seed: 51, hidden: 32, headDim: 8, intermediate: 48 }],
  ['untied', { seed: 52, hidden: 32, headDim: 8, intermediate: 48, untied: true }],
] satisfies Array<[string, TinyModelOptions]>)('Qwen3Session layouts (%s head)', (_, options) => {
  const config = tinyModelConfig(options);
  const weights = tinyModelWeights(config, options.seed);
  const adapter = newAdapter(config, { r: 2, alpha: 4, targets: [...loraTargets], seed: 3, bStd: 0.2 });
  // A limit that fits a fifth of the vocabulary (rounded up) in float32.
  const rowBytes = config.hiddenSize * 4;
  const maxBindingBytes = Math.ceil(config.vocabSize / 5) * rowBytes;
  // Ids at both edges and inside every fifth of the vocabulary, and the chat markers.
  const fifth = Math.ceil(config.vocabSize / 5);
  const ids = [151644, 0, fifth - 1, fifth, 2 * fifth + 17, 3 * fifth - 1, 3 * fifth, 4 * fifth + 5, 151935, 872, 198, 151645];

  it('5 vocabulary chunks under a binding limit give the unsplit logits (≤ 1e-6 relative), prefill and decode', async () => {
    const whole = await load(config, weights);
    const split = await load(config, weights, { maxBindingBytes });
    expect(split.layout.chunks.length).toBe(5);
    const covered = new Set(ids.map((id) => split.layout.chunks.findIndex((c) => id >= c.start && id < c.start + c.rows)));
    expect(covered).toEqual(new Set([0, 1, 2, 3, 4]));
    for (const t of split.weights.values()) expect(t.dims.reduce((a, d) => a * d, 4)).toBeLessThanOrEqual(maxBindingBytes);
    const vocabInputs = [...split.weights.keys()].filter((n) => n.includes('#'));
    expect(vocabInputs.length).toBe(config.tieWordEmbeddings ? 5 : 10);
    for (const a of [null, adapter]) {
      await whole.setAdapter(a);
      await split.setAdapter(a);
      const want = await logitsOf(whole, ids);
      const got = await logitsOf(split, ids);
      got.forEach((logits, i) => expect(relativeError(logits, want[i]!)).toBeLessThan(1e-6));
    }
  });

  it('float16 weights give the logits of the float16-rounded float32 model; the rounding itself costs < 1e-2', async () => {
    const rounded = new Map([...weights].map(([name, data]) => [name, roundTo('F16', data)]));
    const reference = await load(config, rounded);
    const original = await load(config, weights);
    const half = await load(config, weights, { weightDtype: 'float16' });
    const halfSplit = await load(config, weights, { weightDtype: 'float16', maxBindingBytes });
    expect(half.memory().weights * 2).toBe(reference.memory().weights);
    for (const s of [reference, original, half, halfSplit]) await s.setAdapter(adapter);
    const want = await logitsOf(reference, ids);
    const fp32 = await logitsOf(original, ids);
    const got = await logitsOf(half, ids);
    const gotSplit = await logitsOf(halfSplit, ids);
    got.forEach((logits, i) => {
      // In-graph casts are exact, and every sum runs in float32 as in the reference.
      expect(relativeError(logits, want[i]!)).toBeLessThan(1e-6);
      expect(relativeError(gotSplit[i]!, want[i]!)).toBeLessThan(1e-6);
      // float16 keeps 11 significant bits (±2.4e-4 per weight); through this random model that
      // moves the logits by 5e-4 to 3e-3 of the largest one.
      const rounding = relativeError(logits, fp32[i]!);
      expect(rounding).toBeLessThan(1e-2);
      expect(rounding).toBeGreaterThan(1e-6); // the weights really were float16
    });
  });
});

describe('Qwen3Session.memory', () => {
  const config = tinyModelConfig({ hidden: 32, headDim: 8, intermediate: 48, layers: 3 });
  const weights = tinyModelWeights(config, 7);

  it('counts weights, adapter and KV cache bytes as uploaded and grown', async () => {
    const s = await load(config, weights);
    const params = [...weights.values()].reduce((n, w) => n + w.length, 0);
    expect(s.memory()).toEqual({ weights: 4 * params, lora: expect.any(Number), kvCache: 0 });
    const r = 4;
    await s.setAdapter(newAdapter(config, { r, alpha: 8, targets: [...loraTargets], seed: 1 }));
    const loraParams = loraTargets.reduce((n, t) => n + r * projectionShape(config, t).reduce((a, b) => a + b, 0), 0) * config.numLayers;
    expect(s.memory().lora).toBe(4 * (loraParams + 1)); // + the scale
    await s.forward([1, 2, 3, 4, 5]);
    await s.forward([6]);
    const perToken = 2 * config.numLayers * config.numKvHeads * config.headDim * 4;
    expect(s.cachedTokens).toBe(6);
    expect(s.memory().kvCache).toBe(6 * perToken);
    await s.reset();
    expect(s.memory().kvCache).toBe(0);
  });
});
