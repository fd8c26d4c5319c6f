// Generation with the KV cache against generation that re-reads the whole sequence each step.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import { newAdapter } from '../model/peft.ts';
import { generate, type Decoder } from './generate.ts';
import { nodeRuntime } from './runtime-node.ts';
import { defaultSampling } from './sampling.ts';
import { Qwen3Session } from './session.ts';
import { IM_END } from './tokenizer.ts';

const config = tinyModelConfig({ hidden: 32, headDim: 8, intermediate: 48 });
const weights = tinyModelWeights(config, 9);
let session: Qwen3Session;
beforeAll(async () => {
  session = await Qwen3Session.load(nodeRuntime, config, weights);
  await session.setAdapter(newAdapter(config, { r: 4, alpha: 8, targets: ['q_proj', 'o_proj', 'up_proj'], seed: 2, bStd: 0.2 }));
});
afterAll(() => session.release());

/** A decoder without a cache: every call prefills the whole sequence so far. */
function uncached(s: Qwen3Session): Decoder {
  let seen: number[] = [];
  return {
    reset: async () => void (seen = []),
    forward: async (ids) => {
      seen = [...seen, ...ids];
      await s.reset();
      return s.forward(seen);
    },
  };
}

const prompt = [151644, 872, 198, 14, 2152, 26865, 9190, 419, 151645, 198, 151644, 77091, 198];

describe('generate', () => {
  it('greedy decoding with the KV cache equals decoding without it', async () => {
    const options = { ...defaultSampling, greedy: true, maxNewTokens: 12 };
    const cached = await generate(session, prompt, options);
    const plain = await generate(uncached(session), prompt, options);
    expect(cached.ids).toHaveLength(12);
    expect(cached).toEqual(plain);
  });

  it('sampling is reproducible per seed, and stops on a stop token', async () => {
    const options = { ...defaultSampling, seed: 5, maxNewTokens: 8 };
    const first = await generate(session, prompt, options);
    expect(await generate(session, prompt, options)).toEqual(first);
    const differs = await generate(session, prompt, { ...options, seed: 6 });
    expect(differs.ids).not.toEqual(first.ids);
    const stopAt = first.ids[2]!;
    const stopped = await generate(session, prompt, { ...options, stopTokens: [stopAt, IM_END] });
    expect(stopped.finish).toBe('stop');
    expect(stopped.ids).toEqual(first.ids.slice(0, first.ids.indexOf(stopAt)));
  });
});
