// One forward per sequence (sequence-logps.ts) against the decoder's own path, a prefill then one
// decode step per token with each step's last-position log softmax in float64: the same numbers
// with an adapter and without, at a temperature, for the float32 unsplit layout and for float16
// weights with the vocabulary in chunks, and across the runs a sequence longer than the hidden
// size takes. The graph is built once per kind, and the KV cache is left as it was.
import { afterAll, describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import { newAdapter } from '../model/peft.ts';
import { loraTargets } from '../model/tensors.ts';
import { mulberry32 } from '../random.ts';
import { tokenLogp } from './grpo-step.ts';
import type { Runtime } from './runtime.ts';
import { nodeRuntime } from './runtime-node.ts';
import { sequenceLogps } from './sequence-logps.ts';
import { Qwen3Session, type Qwen3SessionOptions } from './session.ts';

const config = tinyModelConfig({ seed: 5 });
const weights = tinyModelWeights(config, 5);
const adapter = newAdapter(config, { r: 2, alpha: 4, targets: [...loraTargets], seed: 7, bStd: 0.05 });

let sessionsCreated = 0;
const counting: Runtime = { ...nodeRuntime, createSession: (model, options) => (sessionsCreated++, nodeRuntime.createSession(model, options)) };
const sessions: Qwen3Session[] = [];
afterAll(async () => {
  for (const s of sessions) await s.release();
});
async function load(options: Qwen3SessionOptions = {}): Promise<Qwen3Session> {
  const s = await Qwen3Session.load(counting, config, weights, { graphs: 'lazy', ...options });
  sessions.push(s);
  return s;
}

/** Token ids drawn from the whole vocabulary, so that a chunked layout reads every chunk. */
function randomIds(length: number, seed: number): number[] {
  const random = mulberry32(seed);
  return Array.from({ length }, () => Math.floor(random() * config.vocabSize));
}

/** The decoder's path: a prefill of ids[0..from), then a decode step per token, each scored from the logits before it. */
async function decodeLogps(session: Qwen3Session, ids: readonly number[], from: number, temperature: number): Promise<number[]> {
  await session.reset();
  const logps: number[] = [];
  let logits = await session.forward(ids.slice(0, from));
  for (let t = from; t < ids.length; t++) {
    logps.push(tokenLogp(logits, ids[t]!, temperature));
    if (t + 1 < ids.length) logits = await session.forward([ids[t]!]);
  }
  await session.reset();
  return logps;
}

const worst = (a: readonly number[], b: readonly number[]) => {
  expect(a.length).toBe(b.length);
  return Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
};

describe('sequenceLogps', () => {
  for (const [what, options] of [
    ['float32, one vocabulary chunk', {}],
    ['float16 weights, the vocabulary in 4 chunks', { weightDtype: 'float16', maxBindingBytes: 40_000 * config.hiddenSize * 4 }],
  ] as const) {
    it(`${what}: equals the decode steps' log-probabilities, base and adapter, at temperature 0.7`, async () => {
      const session = await load(options);
      expect(session.layout.chunks.length).toBe('maxBindingBytes' in options ? 4 : 1);
      const ids = randomIds(24, 1);
      const from = 9;
      const base = await sequenceLogps(session, ids, from, { temperature: 0.7 });
      expect(worst(base, await decodeLogps(session, ids, from, 0.7))).toBeLessThan(1e-5);
      await session.setAdapter(adapter);
      const tuned = await sequenceLogps(session, ids, from, { temperature: 0.7 });
      expect(worst(tuned, await decodeLogps(session, ids, from, 0.7))).toBeLessThan(1e-5);
      // The adapter moves the numbers far beyond that tolerance: the scorer ran it.
      expect(worst(tuned, base)).toBeGreaterThan(1e-3);
      // And the temperature reached the graph.
      expect(worst(await sequenceLogps(session, ids, from), await decodeLogps(session, ids, from, 1))).toBeLessThan(1e-5);
      expect(worst(await sequenceLogps(session, ids, from), tuned)).toBeGreaterThan(1e-3);
      await session.setAdapter(null);
    });
  }

  it(`scores more tokens than the hidden size (${config.hiddenSize}) in runs of that many, the same as decode steps`, async () => {
    const session = await load();
    await session.setAdapter(adapter);
    const ids = randomIds(4 + 2 * config.hiddenSize + 5, 2);
    const logps = await sequenceLogps(session, ids, 4, { temperature: 0.7 });
    expect(logps).toHaveLength(2 * config.hiddenSize + 5);
    expect(worst(logps, await decodeLogps(session, ids, 4, 0.7))).toBeLessThan(1e-5);
  });

  it('builds one graph per kind, kept across calls, and leaves the KV cache as it was', async () => {
    const session = await load();
    const ids = randomIds(12, 3);
    const built = async (run: () => Promise<unknown>) => {
      const before = sessionsCreated;
      await run();
      return sessionsCreated - before;
    };
    expect(await built(() => sequenceLogps(session, ids, 5))).toBe(1);
    expect(await built(() => sequenceLogps(session, ids, 3))).toBe(0);
    await session.setAdapter(adapter);
    expect(await built(() => sequenceLogps(session, ids.slice(0, 7), 2))).toBe(1);
    await session.setAdapter(adapter); // another upload of the adapter: the same graph
    expect(await built(() => sequenceLogps(session, ids, 5))).toBe(0);
    await session.setAdapter(null);
    expect(await built(() => sequenceLogps(session, ids, 5))).toBe(0);

    const prefix = await session.forward(ids.slice(0, 4));
    await sequenceLogps(session, ids, 5);
    expect(session.cachedTokens).toBe(4);
    const next = await session.forward([ids[4]!]);
    await session.reset();
    await session.forward(ids.slice(0, 4));
    expect(Array.from(await session.forward([ids[4]!]))).toEqual(Array.from(next));
    expect(prefix.length).toBe(config.vocabSize);
  });

  it('refuses a start with no token before it or past the end, and a temperature ≤ 0, before running anything', async () => {
    const session = await load();
    const before = sessionsCreated;
    await expect(sequenceLogps(session, [1, 2, 3], 0)).rejects.toThrow('sequenceLogps: from 0 should be an integer in [1, 3)');
    await expect(sequenceLogps(session, [1, 2, 3], 3)).rejects.toThrow('sequenceLogps: from 3 should be an integer in [1, 3)');
    await expect(sequenceLogps(session, [1, 2, 3], 1, { temperature: 0 })).rejects.toThrow('sequenceLogps: temperature 0 should be a finite number > 0');
    expect(sessionsCreated).toBe(before);
  });
});
