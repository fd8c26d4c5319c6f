// The inference graph against the float64 reference ("Qwen3 in one page" in plain JS), over
// configurations that exercise every shape rule: tied/untied head, GQA 2:1 and 3:1, MQA,
// heads·head_dim ≠ hidden; base model and a random LoRA on all seven projections.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTinyModel, type TinyModelOptions } from '../../../scripts/make-tiny-model.ts';
import { nodeRuntime } from '../../engine/runtime-node.ts';
import { Qwen3Session } from '../../engine/session.ts';
import { referenceLogits } from '../../testing/qwen3-reference.ts';
import { relativeError } from '../../testing/numerics.ts';

const dir = await mkdtemp(join(tmpdir(), 'qwen3-decoder-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

// "<|im_start|>user\n/no_think Expand this search query: …" and a few ordinary ids.
const ids = [151644, 872, 198, 14, 2152, 26865, 9190, 419, 2711, 3239, 25, 3704, 5975, 151645, 198, 151644, 77091, 198];

describe.each([
  ['tied, GQA 2:1', { seed: 21 }],
  ['untied, GQA 3:1, heads·head_dim ≠ hidden', { seed: 22, heads: 6, kvHeads: 2, headDim: 16, intermediate: 96, untied: true }],
  ['MQA, 3 layers', { seed: 23, heads: 4, kvHeads: 1, layers: 3, hidden: 48, headDim: 8 }],
] satisfies Array<[string, TinyModelOptions]>)('decoder graph: %s', (name, options) => {
  const made = makeTinyModel(join(dir, name.split(',')[0]!), { ...options, adapter: { dir: join(dir, `${name.split(',')[0]}-lora`), rank: 4, alpha: 8 } });
  const loaded = made.then(async ({ config, weights }) => ({ session: await Qwen3Session.load(nodeRuntime, config, weights) }));
  afterAll(async () => (await loaded).session.release());

  it('base and LoRA logits match the float64 reference within 1e-4 of the largest logit', async () => {
    const { config, weights, adapter } = await made;
    const { session } = await loaded;
    await session.setAdapter(null);
    const base = await session.forward(ids);
    expect(relativeError(base, referenceLogits(config, weights, ids))).toBeLessThan(1e-4);
    await session.setAdapter(adapter);
    const lora = await session.forward(ids);
    expect(relativeError(lora, referenceLogits(config, weights, ids, adapter))).toBeLessThan(1e-4);
    // The adapter moves the logits far more than the tolerance, so the check above has teeth.
    expect(relativeError(lora, Float64Array.from(base))).toBeGreaterThan(1e-2);
  });

  it('prefill + decode steps with the KV cache equal one prefill of the whole sequence', async () => {
    const { adapter } = await made;
    const { session } = await loaded;
    await session.setAdapter(adapter);
    const whole = await session.forward(ids);
    await session.reset();
    await session.forward(ids.slice(0, 10));
    await session.forward(ids.slice(10, 13));
    let stepped: Float32Array = new Float32Array(0);
    for (const id of ids.slice(13)) stepped = await session.forward([id]);
    expect(relativeError(stepped, Float64Array.from(whole))).toBeLessThan(1e-5);
  });
});
