// The merge on the device (Qwen3Session.mergeAdapter through buildMerge) against the host merge
// the CLI uses (merge.ts mergedReader): a merged session gives the logits of a session loaded from
// host-merged weights, and those of base + adapter through the adapter graph; the base is never
// held twice, and a bad adapter merges nothing.
import { describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../../scripts/make-tiny-model.ts';
import { float16Layout, relativeError } from '../../testing/numerics.ts';
import type { DeviceTensor, Runtime, Tensor } from '../../engine/runtime.ts';
import { nodeRuntime } from '../../engine/runtime-node.ts';
import { Qwen3Session, type Qwen3SessionOptions } from '../../engine/session.ts';
import { mergedReader } from '../merge.ts';
import { newAdapter, type LoraAdapter } from '../peft.ts';
import { loraTargets, projectionShape } from '../tensors.ts';
import { transposeMatrix } from './layout.ts';
import { mergeSites, mergeShapeKey } from './merge-graph.ts';

const config = tinyModelConfig({ seed: 81, hidden: 32, headDim: 8, intermediate: 48 });
const weights = tinyModelWeights(config, 81);
const sft = newAdapter(config, { r: 4, alpha: 8, targets: [...loraTargets], seed: 9, bStd: 0.2 });
const ids = [151644, 872, 198, 40000, 151935, 3, 151645, 198, 77091];

/** Logits of a prefill of `ids[0..5)`, then of single decode steps over the rest. */
async function logitsOf(session: Qwen3Session): Promise<Float32Array[]> {
  await session.reset();
  const out = [await session.forward(ids.slice(0, 5))];
  for (const id of ids.slice(5)) out.push(await session.forward([id]));
  return out;
}

async function run<T>(use: (s: Qwen3Session) => Promise<T>, source: Map<string, Float32Array> = weights, options: Qwen3SessionOptions = {}, runtime: Runtime = nodeRuntime): Promise<T> {
  const s = await Qwen3Session.load(runtime, config, source, options);
  try {
    return await use(s);
  } finally {
    await s.release();
  }
}

/** Weights by HF name after the host merge. */
async function hostMerged(base: Map<string, Float32Array>, adapter: LoraAdapter): Promise<Map<string, Float32Array>> {
  const read = mergedReader(async (name) => base.get(name)!, adapter, config);
  return new Map(await Promise.all([...base.keys()].map(async (name) => [name, await read(name)] as const)));
}

const worst = (got: Float32Array[], want: Float32Array[]) => Math.max(...got.map((logits, i) => relativeError(logits, want[i]!)));

/** nodeRuntime keeping the bytes of live device tensors (uploads and run outputs) and the peak, and counting sessions. */
function trackingRuntime() {
  const live = new Map<unknown, number>();
  const track = { bytes: 0, peak: 0, sessions: 0, released: 0 };
  const size = (t: Tensor) => t.dims.reduce((a, d) => a * d, t.type === 'float16' ? 2 : t.type === 'int64' ? 8 : 4);
  const add = (t: DeviceTensor) => {
    live.set(t.handle, size(t));
    track.bytes += size(t);
    track.peak = Math.max(track.peak, track.bytes);
    return t;
  };
  const runtime: Runtime = {
    ...nodeRuntime,
    upload: async (t) => add(await nodeRuntime.upload(t)),
    async createSession(model, options) {
      const session = await nodeRuntime.createSession(model, options);
      track.sessions++;
      return {
        inputNames: session.inputNames,
        outputNames: session.outputNames,
        async run(feeds, toHost) {
          const out = await session.run(feeds, toHost);
          for (const t of Object.values(out)) if (t.kind === 'device') add(t);
          return out;
        },
        release: async () => (track.released++, session.release()),
      };
    },
    release(t) {
      if (t.kind === 'device' && live.has(t.handle)) {
        track.bytes -= live.get(t.handle)!;
        live.delete(t.handle);
      }
      nodeRuntime.release(t);
    },
  };
  return { runtime, track };
}

describe('Qwen3Session.mergeAdapter (float32 weights)', () => {
  it('gives the logits of the host-merged weights (≤ 1e-6 relative) and of base + adapter (≤ 1e-5), prefill and decode', async () => {
    const base = await run(logitsOf);
    const host = await run(logitsOf, await hostMerged(weights, sft));
    const adapted = await run(async (s) => (await s.setAdapter(sft), logitsOf(s)));
    const merged = await run(async (s) => (await s.mergeAdapter(sft), logitsOf(s)));
    expect(worst(host, base)).toBeGreaterThan(1e-2); // the adapter moves the logits
    expect(worst(merged, host)).toBeLessThan(1e-6);
    expect(worst(merged, adapted)).toBeLessThan(1e-5);
  });

  it('each merged projection equals the host merge, transposed, to float32 rounding (≤ 2⁻²² of its largest element)', async () => {
    const host = await hostMerged(weights, sft);
    await run(async (s) => {
      await s.mergeAdapter(sft);
      for (const { weight, input, shape } of mergeSites(config, sft, 'float32')) {
        const got = (await nodeRuntime.download(s.weights.get(input)!)).data as Float32Array;
        const want = transposeMatrix(host.get(weight)!, shape.outFeatures, shape.inFeatures);
        expect(relativeError(got, want)).toBeLessThanOrEqual(2 ** -22);
        expect(relativeError(want, transposeMatrix(weights.get(weight)!, shape.outFeatures, shape.inFeatures))).toBeGreaterThan(1e-2);
      }
    });
  });

  it('an adapter added on top runs on the merged weights; a second merge adds to the first', async () => {
    const other = newAdapter(config, { r: 2, alpha: 4, targets: ['q_proj', 'v_proj'], seed: 10, bStd: 0.3 });
    const once = await hostMerged(weights, sft);
    const want = await run(async (s) => (await s.setAdapter(other), logitsOf(s)), once);
    const twice = await run(logitsOf, await hostMerged(once, other));
    await run(async (s) => {
      await s.mergeAdapter(sft);
      await s.setAdapter(other);
      expect(worst(await logitsOf(s), want)).toBeLessThan(1e-6);
      await s.setAdapter(null);
      await s.mergeAdapter(other);
      expect(worst(await logitsOf(s), twice)).toBeLessThan(1e-6);
    });
  });

  it('holds at most one projection more than the model, releases every old weight and graph, and clears the KV cache', async () => {
    const { runtime, track } = trackingRuntime();
    await run(
      async (s) => {
        const model = track.bytes;
        expect(model).toBe(s.memory().weights);
        const sessions = track.sessions;
        const released = track.released;
        await s.mergeAdapter(sft);
        expect(track.bytes).toBe(model); // each old projection released for its merged one
        const largest = Math.max(...loraTargets.map((t) => projectionShape(config, t).reduce((a, d) => a * d, 4)));
        expect(track.peak - model).toBe(largest);
        // One graph per distinct shape (here q = o [32, 32], k = v, gate = up, down), all released at the end.
        const shapes = new Set(mergeSites(config, sft, 'float32').map((site) => mergeShapeKey(site.shape)));
        expect(shapes.size).toBe(4);
        expect(track.sessions - sessions).toBe(shapes.size);
        expect(track.released - released).toBe(shapes.size);
        await s.forward(ids.slice(0, 4));
        expect(s.cachedTokens).toBe(4);
        await s.mergeAdapter(sft);
        expect(s.cachedTokens).toBe(0);
        expect(track.bytes).toBe(model);
      },
      weights,
      { graphs: 'lazy' },
      runtime,
    );
  });

  it('refuses an adapter whose matrix has the wrong size, naming it, before merging anything', async () => {
    const bad: LoraAdapter = { config: sft.config, layers: sft.layers.map((pairs) => ({ ...pairs })) };
    bad.layers[1]!.down_proj = { a: sft.layers[1]!.down_proj!.a, b: new Float32Array(5) };
    const tooDeep: LoraAdapter = { config: sft.config, layers: [...sft.layers, sft.layers[0]!] };
    const base = await run(logitsOf);
    await run(async (s) => {
      await expect(s.mergeAdapter(bad)).rejects.toThrow(/model\.layers\.1\.mlp\.down_proj\.weight lora_B has 5 values, \[32, 4\] \(r 4\) needs 128/);
      await expect(s.mergeAdapter(tooDeep)).rejects.toThrow(/a pair for model\.layers\.2\.self_attn\.q_proj\.weight, which this model \(2 layers\) does not have/);
      expect(worst(await logitsOf(s), base)).toBe(0);
    });
  });
});

describe('Qwen3Session.mergeAdapter (float16 weights)', () => {
  it('merges in float32 and rounds once: the host merge of the float16-rounded weights, loaded as float16', async () => {
    const rounded = float16Layout(weights);
    const half = { weightDtype: 'float16' } as const;
    const want = await run(logitsOf, await hostMerged(rounded, sft), half);
    const fromOriginal = await run(logitsOf, await hostMerged(weights, sft), half);
    const merged = await run(async (s) => (await s.mergeAdapter(sft), logitsOf(s)), weights, half);
    // The two merges differ only where float32 and float64 sums round W + s·B·A to different
    // float16 neighbours (a few elements, one float16 step of 2⁻¹¹ relative each).
    expect(worst(merged, want)).toBeLessThan(1e-5);
    // Rounding before or after the merge is a float16 rounding of the weights: far larger.
    expect(worst(merged, fromOriginal)).toBeGreaterThan(100 * worst(merged, want));
    // Element by element: equal bits, or one float16 step apart where float32 and float64 sums of
    // W + s·B·A fall on either side of a float16 midpoint.
    const reference = await Qwen3Session.load(nodeRuntime, config, await hostMerged(rounded, sft), half);
    try {
      await run(
        async (s) => {
          await s.mergeAdapter(sft);
          let elements = 0;
          let apart = 0;
          for (const { input } of mergeSites(config, sft, 'float16')) {
            const got = (await nodeRuntime.download(s.weights.get(input)!)).data as Uint16Array;
            const bits = (await nodeRuntime.download(reference.weights.get(input)!)).data as Uint16Array;
            expect(got).toBeInstanceOf(Uint16Array);
            expect(Math.max(...got.map((b, i) => Math.abs(b - bits[i]!)))).toBeLessThanOrEqual(1);
            elements += got.length;
            apart += got.filter((b, i) => b !== bits[i]).length;
          }
          expect(apart / elements).toBeLessThan(1e-3); // 3 of 15,360 here
        },
        weights,
        half,
      );
    } finally {
      await reference.release();
    }
  });
});
