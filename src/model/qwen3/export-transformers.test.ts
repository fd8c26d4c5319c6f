// The exported transformers.js folder, loaded by transformers.js itself (AutoModelForCausalLM on
// onnxruntime-node, local files only), against our Qwen3Session on the weights it came from.
import { AutoModelForCausalLM, env, Tensor, type PreTrainedModel } from '@huggingface/transformers';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportTransformersModel } from '../../../scripts/export-transformersjs.ts';
import { makeTinyModel } from '../../../scripts/make-tiny-model.ts';
import { generate } from '../../engine/generate.ts';
import { nodeRuntime } from '../../engine/runtime-node.ts';
import { defaultSampling } from '../../engine/sampling.ts';
import { Qwen3Session } from '../../engine/session.ts';
import { caseFolder, EXPORT_CASES } from '../../testing/export-cases.ts';
import { relativeError } from '../../testing/numerics.ts';

const dir = await mkdtemp(join(tmpdir(), 'qwen3-tjs-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

// "<|im_start|>user\n/no_think Expand this search query: …" and a few ordinary ids.
const ids = [151644, 872, 198, 14, 2152, 26865, 9190, 419, 2711, 3239, 25, 3704, 5975, 151645, 198, 151644, 77091, 198];

const int64 = (rows: number[][]) => new Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, rows[0]!.length]);

/** Each row's last position's logits, from the [B, T, V] every position gets. */
async function lastLogits(model: PreTrainedModel, inputIds: number[][], mask: number[][]): Promise<Float32Array[]> {
  const { logits } = (await model({ input_ids: int64(inputIds), attention_mask: int64(mask) })) as { logits: Tensor };
  const T = inputIds[0]!.length;
  const vocab = logits.dims[2]!;
  expect(logits.dims).toEqual([inputIds.length, T, vocab]);
  const data = logits.data as Float32Array;
  return inputIds.map((_, b) => data.subarray((b * T + T - 1) * vocab, (b * T + T) * vocab));
}

describe.each(EXPORT_CASES)('transformers.js export: %s', (name, options) => {
  const folder = caseFolder(name);
  let ours: Qwen3Session;
  let model: PreTrainedModel;

  beforeAll(async () => {
    const { config, weights } = await makeTinyModel(join(dir, `${folder}-hf`), options);
    await exportTransformersModel(join(dir, `${folder}-hf`), join(dir, folder), { maxPositions: 256 });
    ours = await Qwen3Session.load(nodeRuntime, config, weights);
    env.allowRemoteModels = false;
    env.localModelPath = dir;
    model = await AutoModelForCausalLM.from_pretrained(folder, { dtype: 'fp32', device: 'cpu' });
  });
  afterAll(async () => {
    await ours?.release();
    await model?.dispose();
  });

  it("transformers.js' logits for a prompt equal our session's within 1e-4", async () => {
    await ours.reset();
    const want = await ours.forward(ids);
    const [got] = await lastLogits(model, [ids], [ids.map(() => 1)]);
    expect(relativeError(got!, want)).toBeLessThan(1e-4);
  });

  it('a left-padded row of a batch gives the same logits as the row alone', async () => {
    const short = ids.slice(0, 11);
    const [alone] = await lastLogits(model, [short], [short.map(() => 1)]);
    const padded = [...ids.slice(0, 7).map(() => 151643), ...short];
    const [full, shifted] = await lastLogits(model, [ids, padded], [ids.map(() => 1), padded.map((_, i) => (i < 7 ? 0 : 1))]);
    expect(relativeError(shifted!, alone!)).toBeLessThan(1e-5);
    // The padded row differs from the unpadded prompt, so the check above is not vacuous.
    expect(relativeError(full!, alone!)).toBeGreaterThan(1e-2);
  });

  it("greedy generate with transformers.js' KV cache picks the same tokens as our loop", async () => {
    const newTokens = 12;
    const mine = await generate(ours, ids, { ...defaultSampling, greedy: true, maxNewTokens: newTokens, stopTokens: [] });
    const out = (await model.generate({
      input_ids: int64([ids]),
      attention_mask: int64([ids.map(() => 1)]),
      max_new_tokens: newTokens,
      min_new_tokens: newTokens,
      do_sample: false,
    })) as Tensor;
    const theirs = Array.from(out.data as BigInt64Array, Number).slice(ids.length);
    expect(theirs).toEqual(mine.ids);
  });
});
