// sampleGroup samples a prompt's G completions in one batch (session.forwardRows). On a tiny seeded
// model with an adapter it gives, row for row, what sampling each completion alone gives (the way
// GRPO sampled before: generate() on session.forward, a log-probability per token from the logits
// it was sampled from): the same tokens, finishes and log-probabilities, with completions that end
// at different positions (forced here: a random model never writes <|im_end|>) while the others go
// on; one run per position; progress as completions end; a stop asked for between runs cancels.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import { newAdapter } from '../model/peft.ts';
import { DEFAULT_PROMPT_FORMAT } from '../model/prompt.ts';
import { hashInts } from '../random.ts';
import { readGrpoConfig, type GrpoSettings } from './grpo-config.ts';
import { generate, type Decoder } from './generate.ts';
import { RolloutCancelled, sampleGroup, type RolloutOptions } from './grpo-rollout.ts';
import { tokenLogp } from './grpo-step.ts';
import { nodeRuntime } from './runtime-node.ts';
import { stripThink, type SamplingOptions } from './sampling.ts';
import { Qwen3Session } from './session.ts';
import { loadBundledTokenizer } from './tokenizer-node.ts';
import { IM_END } from './tokenizer.ts';

const model = tinyModelConfig({ hidden: 64, headDim: 16, intermediate: 96 });
const session = await Qwen3Session.load(nodeRuntime, model, tinyModelWeights(model, 12));
await session.setAdapter(newAdapter(model, { r: 4, alpha: 8, targets: ['q_proj', 'v_proj'], seed: 3, bStd: 0.2 }));
const tokenizer = await loadBundledTokenizer();
afterAll(() => session.release());
const preset = readGrpoConfig(readFileSync(new URL('../../configs/grpo.yaml', import.meta.url), 'utf8'), 'configs/grpo.yaml').config.grpo;
const promptIds = tokenizer.promptIds('sqlite wal mode', DEFAULT_PROMPT_FORMAT);

/** Completion g ends at its position STOP_AT[g] (0: its first token), or runs to the length (-1). */
const STOP_AT = [2, -1, 5, 0];
/** The logits a completion is sampled from: the model's, with <|im_end|> made certain at its stop position. */
function forced(logits: Float32Array, g: number, position: number): Float32Array {
  if (STOP_AT[g] !== position) return logits;
  const out = Float32Array.from(logits);
  out[IM_END] = 1e4;
  return out;
}

const grpo = (o: Partial<GrpoSettings>): GrpoSettings => ({ ...preset, numGenerations: STOP_AT.length, temperature: 0.7, ...o });
const rollout = (g: GrpoSettings, extra: Partial<RolloutOptions> = {}): RolloutOptions => ({ grpo: g, seed: 42, step: 3, prompt: 1, ...extra });

/** The batched decoder sampleGroup runs, with the forced stops, counting its runs. */
function batched() {
  let position = 0;
  const runs: number[] = [];
  return {
    runs,
    reset: () => ((position = 0), session.reset()),
    forwardRows: async (rows: readonly (readonly number[])[]) => {
      runs.push(rows.length);
      const logits = await session.forwardRows(rows);
      const at = position++;
      return logits.map((l, g) => forced(l, g, at));
    },
  };
}

/** Completion g sampled alone, as GRPO sampled before batching: generate() on batch-1 forwards. */
async function alone(g: number, o: RolloutOptions) {
  const { grpo: s } = o;
  const sampling: SamplingOptions = { greedy: false, temperature: s.temperature, topK: s.topK, topP: s.topP, seed: hashInts(o.seed, o.step, o.prompt, g), maxNewTokens: s.maxCompletionLength, stopTokens: [IM_END] };
  let position = 0;
  let logits: Float32Array | null = null;
  const decoder: Decoder = { reset: () => ((position = 0), session.reset()), forward: async (ids) => (logits = forced(await session.forward(ids), g, position++)) };
  const logp: number[] = [];
  const generation = await generate(decoder, promptIds, sampling, (id) => logp.push(tokenLogp(logits!, id, s.temperature)));
  if (generation.finish === 'stop') logp.push(tokenLogp(logits!, IM_END, s.temperature));
  return { ...generation, logp };
}

describe('sampleGroup in one batch', () => {
  it.each([
    ['the whole vocabulary, 12 tokens', { maxCompletionLength: 12 }],
    ['top-k 50, top-p 0.9, 6 tokens', { topK: 50, topP: 0.9, maxCompletionLength: 6 }],
  ] satisfies Array<[string, Partial<GrpoSettings>]>)('%s: each completion is the one sampled alone: tokens, finish, log-probabilities', async (_, settings) => {
    const o = rollout(grpo(settings));
    const L = o.grpo.maxCompletionLength;
    const decoder = batched();
    const progress: number[] = [];
    const group = await sampleGroup(decoder, tokenizer, promptIds, { ...o, onCompletion: (g) => progress.push(g) });
    expect(session.cachedTokens).toBe(0);
    // One run per position, all G rows in each: the prefill and L - 1 decode steps.
    expect(decoder.runs).toEqual(new Array(L).fill(STOP_AT.length));
    // Told as the group starts and as each completion but the last ends (3 at position 0, 0 at 2, 2 at 5).
    expect(progress).toEqual([0, 1, 2, 3]);
    expect(group.map((r) => r.row.example.ids.length - promptIds.length)).toEqual([3, L, 6, 1]);
    for (const [g, r] of group.entries()) {
      const want = await alone(g, o);
      const ids = r.row.example.ids.slice(promptIds.length);
      expect(ids).toEqual(want.finish === 'stop' ? [...want.ids, IM_END] : want.ids);
      expect(want.finish).toBe(STOP_AT[g]! < 0 ? 'length' : 'stop');
      expect(r.text).toBe(stripThink(tokenizer.decode(want.ids)).trim());
      expect(r.logp).toHaveLength(want.logp.length);
      r.logp.forEach((lp, i) => expect(Math.abs(lp - want.logp[i]!)).toBeLessThan(1e-5));
    }
    // The seeds differ by generation: the completions are not one another's copies.
    const first5 = (g: number) => group[g]!.row.example.ids.slice(promptIds.length, promptIds.length + 5);
    expect(first5(1)).not.toEqual(first5(2));
  });

  it('a stop asked for between runs cancels the group and clears the cache', async () => {
    const decoder = batched();
    await expect(sampleGroup(decoder, tokenizer, promptIds, { ...rollout(grpo({ maxCompletionLength: 12 })), stop: () => decoder.runs.length === 3 })).rejects.toThrow(RolloutCancelled);
    expect(decoder.runs).toHaveLength(3);
    expect(session.cachedTokens).toBe(0);
  });
});
