// Training wherever inference works: a session holding float16 weights with the vocabulary in
// chunks (what a GPU without large bindings, or short of memory, loads) trains to the losses and
// parameters of float32 weights, in one tensor, rounded to float16 — dropout included.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import { newAdapter } from '../model/peft.ts';
import { float16Layout, relativeError } from '../testing/numerics.ts';
import { makeBatch } from './batches.ts';
import { nodeRuntime } from './runtime-node.ts';
import { Qwen3Session } from './session.ts';
import { loadBundledTokenizer } from './tokenizer-node.ts';
import { parseTrainConfig } from './train-config.ts';
import { LoraTrainer, sessionWeights } from './trainer.ts';

const sft = parseTrainConfig(readFileSync(new URL('../../configs/sft.yaml', import.meta.url), 'utf8'), 'configs/sft.yaml');
const config = tinyModelConfig({ hidden: 32, headDim: 8, intermediate: 48 });
const weights = tinyModelWeights(config, 9);
const sessions: Qwen3Session[] = [];
afterAll(async () => {
  for (const s of sessions) await s.release();
});

describe('LoRA training on float16 weights in vocabulary chunks', () => {
  it('three steps give the losses and adapter of the float16-rounded float32 weights', async () => {
    const tokenizer = await loadBundledTokenizer();
    const batch = makeBatch(
      [tokenizer.example('vote online', 'lex: voter registration\nvec: register to vote'), tokenizer.example('rust traits', 'lex: trait bounds')],
      { maxLength: 64, lossOn: 'completion' },
    );
    const maxBindingBytes = Math.ceil(config.vocabSize / 4) * config.hiddenSize * 4;
    const half = await Qwen3Session.load(nodeRuntime, config, weights, { weightDtype: 'float16', maxBindingBytes, graphs: 'lazy' });
    const full = await Qwen3Session.load(nodeRuntime, config, float16Layout(weights), { graphs: 'lazy' });
    sessions.push(half, full);
    expect(half.layout).toMatchObject({ dtype: 'float16', chunks: { length: 4 } });
    expect(full.layout).toMatchObject({ dtype: 'float32', chunks: { length: 1 } });

    const start = newAdapter(config, { r: 4, alpha: 8, targets: sft.lora.targets, seed: 3, bStd: 0.1 });
    const train = async (session: Qwen3Session) => {
      const trainer = await LoraTrainer.create({ runtime: nodeRuntime, model: config, ...sessionWeights(session), start: { adapter: start }, optimizer: sft.optimizer, dropout: 0.1, seed: 5 });
      const losses: number[] = [];
      for (let step = 0; step < 3; step++) losses.push((await trainer.step([batch], 1e-2)).loss);
      const adapter = await trainer.adapter();
      await trainer.release();
      return { losses, adapter };
    };
    const got = await train(half);
    const want = await train(full);
    got.losses.forEach((loss, i) => expect(Math.abs(loss - want.losses[i]!)).toBeLessThan(1e-6 * loss));
    expect(got.losses[2]).toBeLessThan(got.losses[0]!); // it trains
    let worst = 0;
    want.adapter.layers.forEach((pairs, layer) => {
      for (const [target, pair] of Object.entries(pairs)) {
        for (const matrix of ['a', 'b'] as const) worst = Math.max(worst, relativeError(got.adapter.layers[layer]![target as keyof typeof pairs]![matrix], pair[matrix]));
      }
    });
    expect(worst).toBeLessThan(1e-5);
  }, 120_000);
});
