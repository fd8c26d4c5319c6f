// The session's device layouts against the plain float32, unsplit one (itself checked against
// the float64 reference in decoder.test.ts): the vocabulary in 5 chunks gives the same logits,
// float16 weights give the logits of the float16-rounded model, a load streamed from a
// safetensors file gives the logits of the in-memory one, resident adapters switch without an
// upload, and the memory report counts what was uploaded.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTinyModel, tinyModelConfig, tinyModelWeights, type TinyModelOptions } from '../../scripts/make-tiny-model.ts';
import { openFileSource } from '../model/file-source.ts';
import { newAdapter } from '../model/peft.ts';
import { SafetensorsFile } from '../model/safetensors.ts';
import { loraTargets, projectionShape, qwen3TensorShapes } from '../model/tensors.ts';
import type { Runtime } from './runtime.ts';
import { nodeRuntime } from './runtime-node.ts';
import { Qwen3Session, type Qwen3SessionOptions } from './session.ts';
import type { TensorSource } from './weight-source.ts';
import { float16Layout, relativeError, weightElements } from '../testing/numerics.ts';
import { countingRuntime } from '../testing/counting-runtime.ts';

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
async function load(
  config: ReturnType<typeof tinyModelConfig>,
  weights: Map<string, Float32Array> | TensorSource,
  options: Qwen3SessionOptions = {},
  runtime: Runtime = nodeRuntime,
) {
  const s = await Qwen3Session.load(runtime, config, weights, options);
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
    const rounded = float16Layout(weights);
    const reference = await load(config, rounded);
    const original = await load(config, weights);
    const half = await load(config, weights, { weightDtype: 'float16' });
    const halfSplit = await load(config, weights, { weightDtype: 'float16', maxBindingBytes });
    // Matrices in float16, norm vectors float32.
    const { matrices, norms } = weightElements(config);
    expect(reference.memory().weights).toBe(4 * (matrices + norms));
    expect(half.memory().weights).toBe(2 * matrices + 4 * norms);
    for (const s of [reference, original, half, halfSplit]) await s.setAdapter(adapter);
    const want = await logitsOf(reference, ids);
    const fp32 = await logitsOf(original, ids);
    const got = await logitsOf(half, ids);
    const gotSplit = await logitsOf(halfSplit, ids);
    got.forEach((logits, i) => {
      // In-graph casts are exact, and on onnxruntime-node every sum runs in float32 as in the reference
      // (its CPU EP has no float16 MatMul: it runs the inference graphs' float16 products in float32).
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
    expect(s.memory()).toEqual({ weights: 4 * params, lora: expect.any(Number), kvCache: 0, rotary: 0 });
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

describe('Qwen3Session.load from a safetensors file', () => {
  // Stored: bf16 read as stored (readStored), widened, turned and checked in one pass, as the CLI and the page load.
  it.each([
    ['untied, float32, 5 vocabulary chunks', { seed: 61, untied: true }, 'float32', 'read'],
    ['tied, float16, 5 vocabulary chunks', { seed: 62 }, 'float16', 'read'],
    ['untied, bf16 as stored → float32, 5 vocabulary chunks', { seed: 63, untied: true, dtype: 'BF16' }, 'float32', 'readStored'],
    ['tied, bf16 as stored → float16, 5 vocabulary chunks', { seed: 64, dtype: 'BF16' }, 'float16', 'readStored'],
  ] as const)('%s: reads each tensor once, one at a time, in file order; logits equal the in-memory load', async (_, model, weightDtype, read) => {
    const dir = await mkdtemp(join(tmpdir(), 'qmd-session-'));
    try {
      const { config, weights } = await makeTinyModel(dir, { ...model, hidden: 32, headDim: 8, intermediate: 48 });
      const file = await openFileSource(join(dir, 'model.safetensors'));
      const reader = await SafetensorsFile.open(file);
      const reads: string[] = [];
      let outstanding = 0;
      let maxOutstanding = 0;
      const counting: TensorSource = {
        async read(name) {
          reads.push(name);
          maxOutstanding = Math.max(maxOutstanding, ++outstanding);
          // Lets a loader that asked for several tensors at once show it before this one answers.
          await new Promise((resolve) => setTimeout(resolve, 1));
          try {
            return await reader[read](name);
          } finally {
            outstanding--;
          }
        },
      };
      const options = { weightDtype, maxBindingBytes: Math.ceil(config.vocabSize / 5) * config.hiddenSize * 4 };
      const streamed = await load(config, counting, options);
      await file.close();
      expect(reads).toEqual([...qwen3TensorShapes(config).keys()]);
      expect(maxOutstanding).toBe(1);
      const inMemory = await load(config, weights, options);
      expect(streamed.layout.chunks.length).toBe(5);
      expect(streamed.memory()).toEqual(inMemory.memory());
      const ids = [151644, 872, 198, 40000, 151935, 3, 151645];
      expect(await logitsOf(streamed, ids)).toEqual(await logitsOf(inMemory, ids));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names a tensor missing from the Map', async () => {
    const config = tinyModelConfig({ hidden: 32, headDim: 8, intermediate: 48 });
    const weights = tinyModelWeights(config, 1);
    weights.delete('model.layers.1.mlp.up_proj.weight');
    await expect(Qwen3Session.load(nodeRuntime, config, weights)).rejects.toThrow(/weight model\.layers\.1\.mlp\.up_proj\.weight is missing/);
  });
});


describe('Qwen3Session resident adapters', () => {
  const config = tinyModelConfig({ hidden: 32, headDim: 8, intermediate: 48 });
  const weights = tinyModelWeights(config, 71);
  const adapters = {
    a: newAdapter(config, { r: 2, alpha: 4, targets: [...loraTargets], seed: 5, bStd: 0.2 }),
    b: newAdapter(config, { r: 4, alpha: 4, targets: ['q_proj', 'v_proj', 'down_proj'], seed: 6, bStd: 0.2 }),
  };
  const ids = [151644, 872, 198, 40000, 151935, 3, 151645];
  // Per adapter, the logits of a session that only ever ran that one (setAdapter, uploaded fresh).
  const reference = (async () => {
    const out = new Map<string | null, Float32Array[]>();
    for (const id of [null, 'a', 'b'] as const) {
      const s = await load(config, weights);
      await s.setAdapter(id ? adapters[id] : null);
      out.set(id, await logitsOf(s, ids));
    }
    return out;
  })();
  const tensorsPerAdapter = config.numLayers * loraTargets.length * 2 + 1; // A and B per target, + the scale

  it('switch A → B → base → A by reference: the logits of each, no upload after adding', async () => {
    const want = await reference;
    expect(relativeError(want.get('a')!.at(-1)!, want.get(null)!.at(-1)!)).toBeGreaterThan(1e-3);
    expect(relativeError(want.get('b')!.at(-1)!, want.get('a')!.at(-1)!)).toBeGreaterThan(1e-3);
    const { runtime, counts } = countingRuntime();
    const s = await load(config, weights, {}, runtime);
    const loaded = counts.upload;
    await s.addAdapter('a', adapters.a);
    await s.addAdapter('b', adapters.b);
    expect(counts.upload - loaded).toBe(2 * tensorsPerAdapter);
    expect(s.adapterIds).toEqual(['a', 'b']);
    const uploads = counts.upload;
    for (const id of ['a', 'b', null, 'a'] as const) {
      await s.useAdapter(id);
      const got = await logitsOf(s, ids);
      got.forEach((logits, i) => expect(relativeError(logits, want.get(id)![i]!)).toBeLessThan(1e-6));
    }
    expect(counts.upload).toBe(uploads);
  });

  it('memory counts every resident adapter; remove releases its tensors, and the running one falls back to the base model', async () => {
    const want = await reference;
    const { runtime, counts } = countingRuntime();
    const s = await load(config, weights, {}, runtime);
    await s.addAdapter('a', adapters.a);
    const withA = s.memory().lora;
    await s.addAdapter('b', adapters.b);
    const withBoth = s.memory().lora;
    const lora = (r: number, targets: readonly (typeof loraTargets)[number][]) =>
      4 * (config.numLayers * loraTargets.reduce((n, t) => n + (targets.includes(t) ? r : 1) * projectionShape(config, t).reduce((x, y) => x + y, 0), 0) + 1);
    expect(withA).toBe(lora(2, loraTargets));
    expect(withBoth - withA).toBe(lora(4, ['q_proj', 'v_proj', 'down_proj']));

    await s.useAdapter('b');
    const released = counts.release;
    await s.removeAdapter('a');
    expect(counts.release - released).toBe(tensorsPerAdapter);
    expect(s.memory().lora).toBe(withBoth - withA);
    await expect(s.useAdapter('a')).rejects.toThrow(/no adapter "a" \(resident: b\)/);
    expect(relativeError((await logitsOf(s, ids)).at(-1)!, want.get('b')!.at(-1)!)).toBeLessThan(1e-6);

    await s.removeAdapter('b');
    expect(s.memory().lora).toBe(0);
    expect(relativeError((await logitsOf(s, ids)).at(-1)!, want.get(null)!.at(-1)!)).toBeLessThan(1e-6);
  });

  it('adding under a running id replaces its weights, releases the old ones and clears the KV cache', async () => {
    const want = await reference;
    const { runtime, counts } = countingRuntime();
    const s = await load(config, weights, {}, runtime);
    await s.addAdapter('x', adapters.a);
    await s.useAdapter('x');
    await s.forward([1, 2, 3]);
    const released = counts.release;
    await s.addAdapter('x', adapters.b);
    expect(s.cachedTokens).toBe(0);
    expect(counts.release - released).toBe(tensorsPerAdapter + 2 * config.numLayers); // the old adapter, then K and V per layer
    expect(relativeError((await logitsOf(s, ids)).at(-1)!, want.get('b')!.at(-1)!)).toBeLessThan(1e-6);
  });
});

describe('Qwen3Session graphs', () => {
  const config = tinyModelConfig({ seed: 71, hidden: 32, headDim: 8, intermediate: 48 });
  const weights = tinyModelWeights(config, 71);
  const adapter = newAdapter(config, { r: 2, alpha: 4, targets: [...loraTargets], seed: 4, bStd: 0.2 });
  /** nodeRuntime, counting the sessions it creates and releases. */
  const counting = () => {
    const counts = { created: 0, released: 0 };
    const runtime: Runtime = {
      ...nodeRuntime,
      async createSession(model, options) {
        const session = await nodeRuntime.createSession(model, options);
        counts.created++;
        const release = async () => {
          counts.released++;
          await session.release();
        };
        return { inputNames: session.inputNames, outputNames: session.outputNames, run: (feeds, toHost) => session.run(feeds, toHost), release };
      },
    };
    return { runtime, counts };
  };
  const ids = [151644, 872, 198, 40000, 151645];

  it("eager builds the base prefill and decode at load; lazy builds each graph at its first run, and none it never runs", async () => {
    const eager = counting();
    const e = await load(config, weights, {}, eager.runtime);
    expect(eager.counts.created).toBe(2);
    const lazy = counting();
    const l = await Qwen3Session.load(lazy.runtime, config, weights, { graphs: 'lazy' }); // released below, not by afterAll
    expect(lazy.counts.created).toBe(0);
    // An adapter set before any run: the base model's graphs are never built.
    await e.setAdapter(adapter);
    await l.setAdapter(adapter);
    expect([eager.counts.created, lazy.counts.created]).toEqual([4, 0]);
    const first = await l.forward(ids.slice(0, 3));
    expect(lazy.counts.created).toBe(1); // the adapter's prefill
    expect(first).toEqual(await e.forward(ids.slice(0, 3)));
    expect(await l.forward(ids.slice(3, 4))).toEqual(await e.forward(ids.slice(3, 4)));
    expect(lazy.counts.created).toBe(2); // + its decode
    await l.reset();
    await l.forward(ids);
    expect(lazy.counts.created).toBe(2); // built once, kept
    await l.release();
    expect(lazy.counts.released).toBe(2);
  });
});
