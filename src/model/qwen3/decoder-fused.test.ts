// The fused graphs against decoder.ts's plain ones on onnxruntime-node, graph by graph: the
// same weight and LoRA inputs (a plain session's device tensors), the same token steps (a
// prefill, a chunk of 3 after it, single decode steps), compared on the logits and on every
// layer's present keys and values, once with a present of each run's own (past [1, KV, P, hd])
// and once with the preallocated cache of fused-cache.ts written in place (the prompt graph for
// the runs of several tokens, the one-token graph for the decode steps).
import { describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights, type TinyModelOptions } from '../../../scripts/make-tiny-model.ts';
import { FusedCache } from '../../engine/fused-cache.ts';
import { nodeRuntime } from '../../engine/runtime-node.ts';
import { f32, floats, i32, i64, type Session, type Tensor } from '../../engine/runtime.ts';
import { Qwen3Session } from '../../engine/session.ts';
import { relativeError } from '../../testing/numerics.ts';
import type { Qwen3Config } from '../config.ts';
import { newAdapter } from '../peft.ts';
import { loraTargets } from '../tensors.ts';
import { buildDecoder } from './decoder.ts';
import { buildFusedDecoder, fusedDecoderGraph, fusedDecoderRefusal } from './decoder-fused.ts';
import { causalBias, ropeCache, ropeTables } from './inputs.ts';
import * as names from './names.ts';

const ids = [151644, 872, 198, 14, 2152, 26865, 9190, 419, 2711, 3239, 25, 3704, 5975, 151645];
const steps = [ids.slice(0, 6), ids.slice(6, 9), ...ids.slice(9).map((id) => [id])];

interface Step {
  logits: Float32Array;
  /** Per layer, keys then values, [KV, S, hd] flattened: the S cached rows only. */
  kv: Float32Array[];
}

const rowsOf = async (t: Tensor, rows: number) => {
  const [, KV, capacity, hd] = t.dims as number[];
  const data = floats(await nodeRuntime.download(t), 'present');
  const out = new Float32Array(KV! * rows * hd!);
  for (let h = 0; h < KV!; h++) out.set(data.subarray(h * capacity! * hd!, (h * capacity! + rows) * hd!), h * rows * hd!);
  return out;
};

async function presents(c: Qwen3Config, out: Record<string, Tensor>, rows: number): Promise<Float32Array[]> {
  const kv: Float32Array[] = [];
  for (let l = 0; l < c.numLayers; l++) kv.push(await rowsOf(out[names.presentKey(l)]!, rows), await rowsOf(out[names.presentValue(l)]!, rows));
  return kv;
}

const pastOf = (c: Qwen3Config, out: Record<string, Tensor>) =>
  Object.fromEntries(Array.from({ length: c.numLayers }, (_, l) => [[names.pastKey(l), out[names.presentKey(l)]!], [names.pastValue(l), out[names.presentValue(l)]!]]).flat());

/** Runs `steps` through the plain prefill and decode graphs, `extra(past, T)` giving each run's position inputs. */
async function run(c: Qwen3Config, graphs: [Session, Session], fed: Record<string, Tensor>, extra: (past: number, T: number) => Record<string, Tensor>): Promise<Step[]> {
  const out: Step[] = [];
  let past = 0;
  let cache: Record<string, Tensor> | null = null;
  for (const step of steps) {
    const T = step.length;
    const feeds = { ...fed, [names.INPUT_IDS]: i64([1, T], step), ...extra(past, T), ...(cache ?? {}) };
    const result = await graphs[cache ? 1 : 0].run(feeds, [names.LOGITS]);
    past += T;
    out.push({ logits: floats(result[names.LOGITS], names.LOGITS), kv: await presents(c, result, past) });
    cache = pastOf(c, result);
  }
  return out;
}

/** The fused prompt and one-token graphs on fused-cache.ts's buffers, fed as past and written as present. */
async function runInPlace(c: Qwen3Config, [prompt, step]: [Session, Session], fed: Record<string, Tensor>): Promise<Step[]> {
  const cache = new FusedCache(nodeRuntime, c);
  const out: Step[] = [];
  try {
    let first: Record<string, Tensor> | null = null;
    for (const ids of steps) {
      const result = await cache.run(async (one) => (one ? step : prompt), { ...fed, [names.INPUT_IDS]: i64([1, ids.length], ids) }, ids.length);
      // The presents are the cache's own tensors, the same every step, written in place: nothing new was allocated.
      first ??= result;
      for (let l = 0; l < c.numLayers; l++) for (const name of [names.presentKey(l), names.presentValue(l)]) expect(result[name]).toBe(first[name]);
      out.push({ logits: floats(result[names.LOGITS], names.LOGITS), kv: await presents(c, result, cache.length) });
    }
  } finally {
    cache.release();
  }
  return out;
}

/** A run's position and past inputs for `total` positions, nothing cached (the keys and values zero). */
function stepFeeds(c: Qwen3Config, total: number): Record<string, Tensor> {
  const { cos, sin } = ropeCache(8, c.headDim, c.ropeTheta);
  const zeros = () => f32([1, c.numKvHeads, 8, c.headDim], new Float32Array(c.numKvHeads * 8 * c.headDim));
  return {
    [names.ROPE_COS_CACHE]: f32([8, c.headDim / 2], cos),
    [names.ROPE_SIN_CACHE]: f32([8, c.headDim / 2], sin),
    [names.SEQLENS_K]: i32([1], [total - 1]),
    [names.TOTAL_SEQUENCE_LENGTH]: i32([], [total]),
    ...Object.fromEntries(Array.from({ length: c.numLayers }, (_, l) => [[names.pastKey(l), zeros()], [names.pastValue(l), zeros()]]).flat()),
  };
}

const worst = (got: Step[], want: Step[]) =>
  got.reduce((e, s, i) => Math.max(e, relativeError(s.logits, want[i]!.logits), ...s.kv.map((kv, j) => relativeError(kv, want[i]!.kv[j]!))), 0);

describe.each([
  ['tied, GQA 2:1', { seed: 61 }],
  ['untied, GQA 3:1, heads·head_dim ≠ hidden', { seed: 62, heads: 6, kvHeads: 2, intermediate: 96, untied: true }],
  ['MQA, 3 layers', { seed: 63, heads: 4, kvHeads: 1, layers: 3, hidden: 48 }],
] satisfies Array<[string, TinyModelOptions]>)('fused decoder graphs: %s', (_, options) => {
  const config = tinyModelConfig(options);
  const weights = tinyModelWeights(config, options.seed);
  const adapter = newAdapter(config, { r: 2, alpha: 4, targets: [...loraTargets], seed: 5, bStd: 0.2 });

  it('logits and present K/V of prefill, chunk and decode steps equal the plain graphs within 1e-5 (base and adapter; the cache written in place)', async () => {
    const session = await Qwen3Session.load(nodeRuntime, config, weights, { decoder: 'plain' });
    const make = (bytes: Uint8Array) => nodeRuntime.createSession(bytes);
    const plainPositions = (past: number, T: number) => {
      const rope = ropeTables(Array.from({ length: T }, (_, t) => past + t), config.headDim, config.ropeTheta);
      return { [names.ROPE_COS]: f32([T, config.headDim], rope.cos), [names.ROPE_SIN]: f32([T, config.headDim], rope.sin), [names.ATTN_BIAS]: f32([T, past + T], causalBias(past, T)) };
    };
    try {
      for (const lora of [false, true]) {
        await session.setAdapter(lora ? adapter : null);
        const fed = { ...Object.fromEntries(session.weights), ...session.running.lora };
        const plain: [Session, Session] = [await make(buildDecoder(config, { past: false, lora })), await make(buildDecoder(config, { past: true, lora }))];
        const fused: [Session, Session] = [await make(buildFusedDecoder(config, { lora })), await make(buildFusedDecoder(config, { lora, oneToken: true }))];
        const want = await run(config, plain, fed, plainPositions);
        const inPlace = await runInPlace(config, fused, fed);
        for (const s of [...plain, ...fused]) await s.release();
        expect(worst(inPlace, want)).toBeLessThan(1e-5);
        // The steps' logits differ from each other far more than the tolerance: the check has teeth.
        expect(relativeError(want[0]!.logits, want.at(-1)!.logits)).toBeGreaterThan(1e-2);
      }
    } finally {
      await session.release();
    }
  });
});

describe('fusedDecoderRefusal', () => {
  it('refuses a head_dim that is not a multiple of 16, which GroupQueryAttention cannot rotate', () => {
    expect(fusedDecoderRefusal(tinyModelConfig({ headDim: 16 }))).toBeNull();
    expect(fusedDecoderRefusal(tinyModelConfig({ headDim: 128 }))).toBeNull();
    expect(fusedDecoderRefusal(tinyModelConfig({ headDim: 8 }))).toMatch(/head_dim 8 is not a multiple of 16/);
    expect(() => buildFusedDecoder(tinyModelConfig({ headDim: 8 }))).toThrow(/buildFusedDecoder: head_dim 8 .* use decoder.ts's buildDecoder/);
  });
});

describe('the last row', () => {
  const config = tinyModelConfig({ layers: 3 });
  const stepOps = (op: string) => fusedDecoderGraph(config, { oneToken: true }).nodes.filter((n) => n.opType === op);

  it("is a prompt's one Slice, of the final norm run on every row; a decode step has none", () => {
    const nodes = fusedDecoderGraph(config).nodes;
    const slices = nodes.filter((n) => n.opType === 'Slice');
    expect(slices).toHaveLength(1);
    expect(slices[0]!.inputs[0]).toBe(nodes.filter((n) => n.opType === 'SkipSimplifiedLayerNormalization').at(-1)!.outputs[0]);
    expect(stepOps('Slice')).toHaveLength(0);
    expect(stepOps('SkipSimplifiedLayerNormalization')).toHaveLength(config.numLayers * 2);
  });

  it('a decode step takes one token a row: onnxruntime refuses two', async () => {
    const session = await Qwen3Session.load(nodeRuntime, config, tinyModelWeights(config, 3), { graphs: 'lazy' });
    const step = await nodeRuntime.createSession(session.decoderBytes('base', true));
    try {
      const two = { ...Object.fromEntries(session.weights), [names.INPUT_IDS]: i64([1, 2], [14, 2152]), ...stepFeeds(config, 2) };
      await expect(step.run(two, [names.LOGITS])).rejects.toThrow(/input_ids/);
      const one = { ...two, [names.INPUT_IDS]: i64([1, 1], [14]), ...stepFeeds(config, 1) };
      expect(((await step.run(one, [names.LOGITS]))[names.LOGITS]!.dims)).toEqual([1, config.vocabSize]);
    } finally {
      await step.release();
      await session.release();
    }
  });
});

describe("headNorm 'attention'", () => {
  const config = tinyModelConfig({ layers: 3 });
  const ops = (headNorm: 'attention' | 'nodes') => fusedDecoderGraph(config, { headNorm }).nodes;

  it('hands each layer’s q_norm / k_norm weights to its GroupQueryAttention (inputs 14 and 15) in place of two norm nodes', () => {
    const count = (nodes: ReturnType<typeof ops>, op: string) => nodes.filter((n) => n.opType === op).length;
    const [inside, outside] = [ops('attention'), ops('nodes')];
    expect(count(outside, 'SimplifiedLayerNormalization') - count(inside, 'SimplifiedLayerNormalization')).toBe(2 * config.numLayers);
    const attention = inside.filter((n) => n.opType === 'GroupQueryAttention');
    expect(attention.map((n) => [n.inputs[14]?.name, n.inputs[15]?.name])).toEqual(
      Array.from({ length: config.numLayers }, (_, l) => [`model.layers.${l}.self_attn.q_norm.weight`, `model.layers.${l}.self_attn.k_norm.weight`]),
    );
    expect(attention[0]!.attributes).toContainEqual({ name: 'qk_norm_epsilon', type: 'float', value: config.rmsNormEps });
    expect(inside.filter((n) => n.opType === 'GroupQueryAttention').every((n) => n.inputs.slice(9, 14).every((v) => v === null))).toBe(true);
  });

  it('is refused by onnxruntime-node’s CPU kernel at the first run, so a session on it builds the norm nodes', async () => {
    const decode = await nodeRuntime.createSession(buildFusedDecoder(config, { headNorm: 'attention', lora: false }));
    const weights = tinyModelWeights(config, 3);
    const session = await Qwen3Session.load(nodeRuntime, config, weights, { graphs: 'lazy' });
    try {
      const feeds = { ...Object.fromEntries(session.weights), [names.INPUT_IDS]: i64([1, 2], [14, 2152]), ...stepFeeds(config, 2) };
      await expect(decode.run(feeds, [names.LOGITS])).rejects.toThrow(/q_norm_weight \/ k_norm_weight inputs are not supported/);
      expect(nodeRuntime.headNormInAttention ?? false).toBe(false);
      expect(session.decoderBytes('base', true)).toEqual(buildFusedDecoder(config, { lora: false, headNorm: 'nodes', oneToken: true }));
    } finally {
      await decode.release();
      await session.release();
    }
  });
});
