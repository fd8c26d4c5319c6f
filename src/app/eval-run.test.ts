import { describe, expect, it } from 'vitest';
import type { CallOptions } from '../engine/client.ts';
import { generate, type Decoder } from '../engine/generate.ts';
import { EngineError, type GenerationResult, type Request, type SamplingRequest } from '../engine/protocol.ts';
import { scoreBoth } from '../scoring/index.ts';
import { planSteps, runEval, runResultName, runResults, type EvalPlan, type GenerateClient } from './eval-run.ts';

type GenerateRequest = Extract<Request, { type: 'generate' }>;

const VOCAB = 40;
const STOP = 39;

/**
 * A fake engine client that samples for real: the engine's own generation loop and seeded
 * sampler over a decoder whose logits depend on the query, the adapter and the position, so
 * outputs vary with seed, query and adapter exactly as far as the sampler makes them.
 */
class FakeClient implements GenerateClient {
  readonly requests: GenerateRequest[] = [];
  /** Abort the run's controller when this many tokens have been emitted. */
  abortAfterTokens: { count: number; controller: AbortController } | null = null;
  #tokens = 0;

  async call(request: GenerateRequest, options: CallOptions = {}): Promise<GenerationResult> {
    this.requests.push(request);
    const salt = [...`${request.adapter ?? ''}|${request.query}`].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619), 2166136261);
    let position = 0;
    const decoder: Decoder = {
      reset: async () => {
        position = 0;
      },
      forward: async (ids) => {
        if (options.signal?.aborted) throw new EngineError('cancelled', 'generate was cancelled');
        position += ids.length;
        // Logits in [0, 2): flat enough that a different seed almost surely picks different tokens.
        return Float32Array.from({ length: VOCAB }, (_, v) => (((salt ^ Math.imul(v + 1, 2654435761) ^ Math.imul(position, 40503)) >>> 0) % 1000) / 500);
      },
    };
    const result = await generate(decoder, [1, 2, 3], { ...request.sampling, stopTokens: [STOP] }, (id) => {
      options.onEvent?.({ type: 'token', id, text: ` t${id}`, tokensPerSecond: 10 });
      if (++this.#tokens === this.abortAfterTokens?.count) this.abortAfterTokens.controller.abort();
    });
    return { ids: result.ids, text: `lex: ${result.ids.map((id) => `t${id}`).join(' ')}`, finish: result.finish, tokensPerSecond: 10, promptTokens: 3 };
  }
}

const sampling: SamplingRequest = { greedy: false, temperature: 0.7, topK: 0, topP: 1, seed: 11, maxNewTokens: 12 };
const plan: EvalPlan = {
  queries: ['nginx reverse proxy', 'git rebase', 'sqlite wal mode'],
  variants: [
    { adapter: null, label: 'base' },
    { adapter: 'a1', label: 'tiny-lora' },
  ],
  sampling,
  samplesPerQuery: 3,
};

describe('eval run', () => {
  it('plans variant by variant, query by query, sample k with seed + k', () => {
    const steps = planSteps(plan);
    expect(steps).toHaveLength(2 * 3 * 3);
    expect(steps.map((s) => [s.variant, s.query, s.sample, s.sampling.seed])).toEqual(
      [0, 1].flatMap((variant) => plan.queries.flatMap((query) => [0, 1, 2].map((k) => [variant, query, k, 11 + k]))),
    );
    expect(steps.every((s) => s.sampling.temperature === 0.7 && s.sampling.maxNewTokens === 12)).toBe(true);
  });

  it('sends each step as one generate request and gives every sample its own item', async () => {
    const client = new FakeClient();
    const outputs = await runEval(client, plan);
    expect(client.requests.map((r) => [r.adapter, r.query, r.sampling.seed])).toEqual(
      planSteps(plan).map((s) => [plan.variants[s.variant]!.adapter, s.query, s.sampling.seed]),
    );
    expect(outputs.map((o) => o.variant.label)).toEqual(['base', 'tiny-lora']);
    for (const output of outputs) {
      expect(output.pairs.map((p) => p.query)).toEqual(plan.queries.flatMap((q) => [q, q, q]));
    }
    // Samples of one query differ (their seeds do), and so do the variants.
    const [first, second, third] = outputs[0]!.pairs;
    expect(new Set([first!.expansion, second!.expansion, third!.expansion]).size).toBe(3);
    expect(outputs[1]!.pairs[0]!.expansion).not.toBe(first!.expansion);
  });

  it('repeats itself with a fixed seed, and sample k equals a one-sample run seeded seed + k', async () => {
    const once = await runEval(new FakeClient(), plan);
    const again = await runEval(new FakeClient(), plan);
    expect(again).toEqual(once);
    for (const k of [1, 2]) {
      const single = await runEval(new FakeClient(), { ...plan, samplesPerQuery: 1, sampling: { ...sampling, seed: 11 + k } });
      for (const [v, output] of single.entries()) {
        expect(output.pairs).toEqual(once[v]!.pairs.filter((_, i) => i % 3 === k));
      }
    }
    const reseeded = await runEval(new FakeClient(), { ...plan, sampling: { ...sampling, seed: 12 } });
    expect(reseeded[0]!.pairs[0]).toEqual(once[0]!.pairs[1]);
    expect(reseeded[0]!.pairs.map((p) => p.expansion)).not.toEqual(once[0]!.pairs.map((p) => p.expansion));
  });

  it('reports progress: step i of n, tokens, elapsed and an ETA from the mean step time', async () => {
    let clock = 0;
    const client = new FakeClient();
    const seen: { done: number; tokens: number; eta: number | null; elapsed: number; step: boolean }[] = [];
    const small: EvalPlan = { ...plan, variants: [plan.variants[0]!], samplesPerQuery: 1 };
    const outputs = await runEval(client, small, {
      now: () => (clock += 250),
      onProgress: (p) => {
        expect(p.total).toBe(3);
        seen.push({ done: p.done, tokens: p.tokens, eta: p.etaSeconds, elapsed: p.elapsedSeconds, step: p.step !== null });
      },
    });
    const tokens = outputs[0]!.pairs.reduce((n, p) => n + p.expansion.split(' ').length - 1, 0);
    const last = seen.at(-1)!;
    expect(last).toMatchObject({ done: 3, tokens, eta: 0, step: false });
    expect(seen[0]).toMatchObject({ done: 0, tokens: 0, eta: null, step: true });
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i]!.done).toBeGreaterThanOrEqual(seen[i - 1]!.done);
      expect(seen[i]!.elapsed).toBeGreaterThan(seen[i - 1]!.elapsed);
    }
    const afterFirst = seen.find((s) => s.done === 1)!;
    expect(afterFirst.eta).toBeGreaterThan(0);
  });

  it('cancels the generate in flight and sends nothing after it', async () => {
    const controller = new AbortController();
    const client = new FakeClient();
    client.abortAfterTokens = { count: 5, controller };
    const run = runEval(client, plan, { signal: controller.signal });
    await expect(run).rejects.toMatchObject({ code: 'cancelled' });
    expect(client.requests.length).toBeLessThan(planSteps(plan).length);
    const before = client.requests.length;
    await Promise.resolve();
    expect(client.requests).toHaveLength(before);
  });

  it('refuses an empty set, no variant or a bad sample count, naming the field', () => {
    expect(() => planSteps({ ...plan, queries: [] })).toThrow(/no queries/);
    expect(() => planSteps({ ...plan, variants: [] })).toThrow(/base model or at least one adapter/);
    expect(() => planSteps({ ...plan, samplesPerQuery: 0 })).toThrow(/samples per query .* got 0/);
    expect(() => planSteps({ ...plan, sampling: { ...sampling, seed: 1.5 } })).toThrow(/seed must be an integer, got 1.5/);
  });

  it('makes one scored result per variant, origin run, named model · adapter · set · date', async () => {
    const outputs = await runEval(new FakeClient(), { ...plan, samplesPerQuery: 1 });
    const date = new Date(2026, 10, 5, 9, 4);
    const results = runResults(outputs, { model: 'test/tiny-qwen3', set: 'three', profile: 'reward', sampling: { ...sampling, greedy: true }, samplesPerQuery: 1, date });
    expect(results.map((r) => r.name)).toEqual(['test/tiny-qwen3 · base · three · 2026-11-05 09:04', 'test/tiny-qwen3 · tiny-lora · three · 2026-11-05 09:04']);
    expect(runResultName('m', 'a', 's', new Date(2027, 0, 2, 23, 59))).toBe('m · a · s · 2027-01-02 23:59');
    expect(results.map((r) => r.model)).toEqual([{ base: 'test/tiny-qwen3', adapter: null }, { base: 'test/tiny-qwen3', adapter: 'tiny-lora' }]);
    for (const [i, result] of results.entries()) {
      expect(result).toMatchObject({ origin: 'run', profile: 'reward', settings: { temperature: 0, topK: 0, topP: 1, maxNewTokens: 12, seed: 11, samplesPerQuery: 1 } });
      expect(result.items.map((item) => [item.query, item.expansion])).toEqual(outputs[i]!.pairs.map((p) => [p.query, p.expansion]));
      const { query, expansion } = outputs[i]!.pairs[0]!;
      expect(result.items[0]!.eval).toEqual(scoreBoth(query, expansion).eval);
    }
    expect(new Set(results.map((r) => r.id)).size).toBe(2);
  });

  it('hands over what it has after every generation, so a run cancelled after two keeps a partial result of two', async () => {
    const controller = new AbortController();
    const client = new FakeClient();
    const date = new Date(2026, 10, 5, 9, 4);
    const context = { model: 'm', set: 'three', profile: 'eval' as const, sampling, samplesPerQuery: 1, date, ids: ['base-id', 'lora-id'] };
    const saves: ReturnType<typeof runResults>[] = [];
    const run = runEval(client, { ...plan, samplesPerQuery: 1 }, {
      signal: controller.signal,
      onStep: async (outputs) => {
        saves.push(runResults(outputs, context));
        if (saves.length === 2) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'cancelled' });
    expect(client.requests).toHaveLength(2); // nothing starts once the second save has run
    expect(saves.map((results) => results.map((r) => [r.id, r.items.length, r.partial]))).toEqual([
      [['base-id', 1, { done: 1, total: 3 }]],
      [['base-id', 2, { done: 2, total: 3 }]],
    ]);
    expect(saves[1]![0]!.created).toBe(date.getTime());

    const full = await runEval(new FakeClient(), { ...plan, samplesPerQuery: 1 });
    const results = runResults(full, context);
    expect(results.map((r) => [r.id, r.items.length, 'partial' in r])).toEqual([
      ['base-id', 3, false],
      ['lora-id', 3, false],
    ]);
  });
});
