// The trainer's adapter handed to the decoder on the device (TrainedAdapter → adoptAdapter) runs
// exactly as the same adapter read back and uploaded (addAdapter), with no download and one
// upload (the scale) per publish; the session holds its own copies, so the trainer's next step
// (which releases its tensors) leaves the published adapter intact.
import { afterAll, describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import { newAdapter, type LoraAdapter } from '../model/peft.ts';
import * as names from '../model/qwen3/names.ts';
import { relativeError } from '../testing/numerics.ts';
import { makeBatch } from './batches.ts';
import { generate } from './generate.ts';
import type { DeviceTensor, Runtime } from './runtime.ts';
import { nodeRuntime } from './runtime-node.ts';
import { defaultSampling } from './sampling.ts';
import { Qwen3Session } from './session.ts';
import { loadBundledTokenizer } from './tokenizer-node.ts';
import { TrainedAdapter } from './trained-adapter.ts';
import { LoraTrainer, sessionWeights } from './trainer.ts';

/**
 * nodeRuntime counting uploads and downloads, and failing a run fed a device tensor it released
 * (ORT's CPU tensors would still read after dispose, so a borrowed tensor would go unnoticed).
 */
function guardedRuntime() {
  const released = new WeakSet<object>();
  const counts = { upload: 0, download: 0 };
  const runtime: Runtime = {
    ...nodeRuntime,
    upload: (t) => (counts.upload++, nodeRuntime.upload(t)),
    download: (t) => (counts.download++, nodeRuntime.download(t)),
    release(t) {
      if (t.kind === 'device') released.add(t.handle as object);
      nodeRuntime.release(t);
    },
    async createSession(model, options) {
      const session = await nodeRuntime.createSession(model, options);
      return {
        inputNames: session.inputNames,
        outputNames: session.outputNames,
        run(feeds, toHost) {
          for (const [name, t] of Object.entries(feeds)) {
            if (t.kind === 'device' && released.has(t.handle as object)) throw new Error(`fed ${name} after its release`);
          }
          return session.run(feeds, toHost);
        },
        release: () => session.release(),
      };
    },
  };
  return { runtime, counts };
}

const config = tinyModelConfig({ hidden: 32, headDim: 8, intermediate: 48 });
const { runtime, counts } = guardedRuntime();
const session = await Qwen3Session.load(runtime, config, tinyModelWeights(config, 91));
const tokenizer = await loadBundledTokenizer();
afterAll(() => session.release());

const batch = makeBatch(
  [tokenizer.example('auth config', 'lex: auth config\nvec: how to configure authentication'), tokenizer.example('git rebase', 'lex: git rebase onto main')],
  { maxLength: 64, lossOn: 'completion' },
);
const optimizer = { lr: 3e-2, schedule: 'constant' as const, warmupRatio: 0, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0, maxGradNorm: 0 };
const greedy = { ...defaultSampling, greedy: true, maxNewTokens: 8, stopTokens: [] };
const prompt = tokenizer.promptIds('auth config');

/** Greedy ids and the prompt's logits under adapter `id`. */
async function sample(id: string) {
  await session.useAdapter(id);
  const logits = await session.forward(prompt);
  return { logits, ids: (await generate(session, prompt, greedy)).ids };
}

describe('TrainedAdapter', () => {
  it('after two steps, runs as the adapter read back and uploaded; no download, one upload per publish; the next step leaves it intact', async () => {
    const start = newAdapter(config, { r: 4, alpha: 8, targets: ['q_proj', 'v_proj'], seed: 2 });
    const trainer = await LoraTrainer.create({ runtime, model: config, ...sessionWeights(session), start: { adapter: start }, optimizer, dropout: 0, seed: 1 });
    const trained = await TrainedAdapter.create(session, trainer);
    try {
      // A tiny random model needs a far larger step than GRPO's to move in two.
      for (let step = 0; step < 2; step++) await trainer.step([batch], 3e-2);
      const before = { ...counts };
      await trained.publish('policy');
      // The scale, and the rank-1 zero branches of the five untrained targets per layer, once.
      expect(counts.upload - before.upload).toBe(1 + 2 * 5 * config.numLayers);
      const published = await sample('policy');
      expect(counts.download - before.download).toBe(0);

      const host: LoraAdapter = await trainer.adapter();
      await session.addAdapter('host', host);
      const want = await sample('host');
      expect(relativeError(published.logits, want.logits)).toBe(0);
      expect(published.ids).toEqual(want.ids);
      await session.useAdapter(null);
      expect(relativeError(await session.forward(prompt), want.logits)).toBeGreaterThan(1e-3); // the steps moved B away from 0

      // The next step releases the trainer's tensors; the published adapter is the session's own.
      await trainer.step([batch], 3e-2);
      const again = await sample('policy');
      expect(relativeError(again.logits, want.logits)).toBe(0);

      // Republishing replaces it with the new step's, uploading only the scale, downloading nothing.
      const republish = { ...counts };
      const lora = session.memory().lora;
      await trained.publish('policy');
      expect(counts.upload - republish.upload).toBe(1);
      const next = await sample('policy');
      expect(counts.download - republish.download).toBe(0);
      expect(session.memory().lora).toBe(lora); // the old copy released
      await session.addAdapter('host', await trainer.adapter());
      expect(relativeError(next.logits, (await sample('host')).logits)).toBe(0);
      expect(relativeError(next.logits, want.logits)).toBeGreaterThan(1e-4);
    } finally {
      await trained.release();
      await trainer.release();
      await session.removeAdapter('policy');
      await session.removeAdapter('host');
    }
  });

  it('adoptAdapter refuses a missing, misshapen or unknown tensor, naming it, and takes nothing over', async () => {
    const lora = { r: 2, alpha: 4, targets: ['q_proj' as const], useRslora: false, dropout: 0, baseModel: null };
    const tensors: Record<string, DeviceTensor> = {};
    for (let layer = 0; layer < config.numLayers; layer++) {
      tensors[names.transposed(names.loraA(layer, 'q_proj'))] = await runtime.upload({ kind: 'host', type: 'float32', dims: [32, 2], data: new Float32Array(64) });
      tensors[names.transposed(names.loraB(layer, 'q_proj'))] = await runtime.upload({ kind: 'host', type: 'float32', dims: [2, 32], data: new Float32Array(64) });
    }
    const { [names.transposed(names.loraB(1, 'q_proj'))]: dropped, ...missing } = tensors;
    await expect(session.adoptAdapter('x', lora, missing)).rejects.toThrow(/tensor lora\.1\.q_proj\.B\^T is missing \(r 2 on \[q_proj\]\)/);
    const misshapen = { ...tensors, [names.transposed(names.loraA(0, 'q_proj'))]: dropped! };
    await expect(session.adoptAdapter('x', lora, misshapen)).rejects.toThrow(/tensor lora\.0\.q_proj\.A\^T is float32 \[2, 32\], float32 \[32, 2\] expected/);
    const unknown = { ...tensors, [names.transposed(names.loraA(0, 'k_proj'))]: dropped! };
    await expect(session.adoptAdapter('x', lora, unknown)).rejects.toThrow(/tensor lora\.0\.k_proj\.A\^T is not a LoRA input of r 2 on \[q_proj\]/);
    expect(session.adapterIds).not.toContain('x');
    for (const t of Object.values(tensors)) runtime.release(t);
  });
});
