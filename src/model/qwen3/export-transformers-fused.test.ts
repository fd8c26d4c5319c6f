// The q4 / q4f16 transformers.js folders (the onnx-community layout: contrib ops, MatMulNBits),
// loaded by transformers.js itself (AutoModelForCausalLM on onnxruntime-node, local files only) and
// run by its own `generate` loop and KV cache, against our q4 Qwen3Session on the weights they came
// from: the same 4-bit codes, so q4 gives our logits up to float32 rounding and q4f16 up to float16
// activations — and our own q4f16 session (float16 activations too, the same float16 scales and
// norms) gives q4f16's up to the order of float16 sums.
import { AutoModelForCausalLM, env, LogitsProcessor, Tensor, type PreTrainedModel } from '@huggingface/transformers';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportTransformersModel } from '../../../scripts/export-transformersjs.ts';
import { makeTinyModel, tinyModelConfig } from '../../../scripts/make-tiny-model.ts';
import { nodeRuntime } from '../../engine/runtime-node.ts';
import { argmax } from '../../engine/sampling.ts';
import { Qwen3Session } from '../../engine/session.ts';
import { caseFolder, EXPORT_CASES } from '../../testing/export-cases.ts';
import { relativeError } from '../../testing/numerics.ts';
import { buildTransformersFusedDecoder } from './export-transformers-fused.ts';

const dir = await mkdtemp(join(tmpdir(), 'qwen3-tjs-fused-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

// "<|im_start|>user\n/no_think Expand this search query: …" and a few ordinary ids.
const ids = [151644, 872, 198, 14, 2152, 26865, 9190, 419, 2711, 3239, 25, 3704, 5975, 151645, 198, 151644, 77091, 198];
const NEW_TOKENS = 16;

const int64 = (rows: number[][]) => new Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, rows[0]!.length]);

/** Each step's last-position logits as transformers.js' generate sees them (float32), before it picks. */
class Recorder extends LogitsProcessor {
  readonly steps: Float32Array[] = [];
  override _call(_ids: bigint[][], logits: Tensor): Tensor {
    this.steps.push(Float32Array.from(logits.data as Float32Array));
    return logits;
  }
}

/** transformers.js' greedy generate: the new ids and each step's logits. No stop token, so all NEW_TOKENS come. */
async function theirs(model: PreTrainedModel): Promise<{ ids: number[]; logits: Float32Array[] }> {
  const recorder = new Recorder();
  const out = (await model.generate({
    input_ids: int64([ids]),
    attention_mask: int64([ids.map(() => 1)]),
    max_new_tokens: NEW_TOKENS,
    do_sample: false,
    eos_token_id: [],
    logits_processor: [recorder] as never,
  })) as Tensor;
  return { ids: Array.from(out.data as BigInt64Array, Number).slice(ids.length), logits: recorder.steps };
}

/** Our greedy loop on the session: the prompt, then one token at a time. */
async function ours(session: Qwen3Session): Promise<{ ids: number[]; logits: Float32Array[] }> {
  await session.reset();
  const logits = [await session.forward(ids)];
  const picked: number[] = [];
  while (picked.length < NEW_TOKENS) {
    picked.push(argmax(logits.at(-1)!));
    if (picked.length < NEW_TOKENS) logits.push(await session.forward([picked.at(-1)!]));
  }
  return { ids: picked, logits };
}

const worst = (got: Float32Array[], want: Float32Array[]) => Math.max(...want.map((w, i) => relativeError(got[i]!, w)));

describe.each(EXPORT_CASES)('transformers.js q4 / q4f16 export: %s', (name, options) => {
  const folder = caseFolder(name);
  let session: Qwen3Session;
  let mine: { ids: number[]; logits: Float32Array[] };
  let mineHalf: { ids: number[]; logits: Float32Array[] };

  beforeAll(async () => {
    const { config, weights } = await makeTinyModel(join(dir, `${folder}-hf`), options);
    await exportTransformersModel(join(dir, `${folder}-hf`), join(dir, folder), { maxPositions: 256, dtypes: ['q4', 'q4f16'] });
    session = await Qwen3Session.load(nodeRuntime, config, weights, { weightDtype: 'q4' });
    mine = await ours(session);
    const half = await Qwen3Session.load(nodeRuntime, config, weights, { weightDtype: 'q4f16' });
    mineHalf = await ours(half);
    await half.release();
    env.allowRemoteModels = false;
    env.localModelPath = dir;
  });
  afterAll(() => session?.release());

  // q4: the same codes, scales and float32 sums as our MatMulNBits and GatherBlockQuantized; only the
  // attention kernel and the order of sums differ. q4f16: float16 activations, scales (rounded from
  // float32: ≤ 2⁻¹¹ relative) and KV cache; measured ~2e-3 on these models against our q4, and
  // 8.3e-4–9.5e-4 against our q4f16 (both round the logits to float16: 2⁻¹¹ of the largest is 4.9e-4).
  it.each([
    ['q4', 'q4', 1e-5],
    ['q4f16', 'q4', 1e-2],
    ['q4f16', 'q4f16', 2e-3],
  ] as const)('%s: greedy generate picks our %s session’s tokens, each step’s logits within %s of ours', async (dtype, our, tolerance) => {
    const model = await AutoModelForCausalLM.from_pretrained(folder, { dtype, device: 'cpu' });
    const want = our === 'q4' ? mine : mineHalf;
    try {
      const got = await theirs(model);
      expect(got.logits).toHaveLength(NEW_TOKENS);
      expect(got.ids).toEqual(want.ids);
      expect(worst(got.logits, want.logits)).toBeLessThan(tolerance);
    } finally {
      await model.dispose();
    }
  });
});

describe('the q4 / q4f16 graph', () => {
  it('refuses a head_dim GroupQueryAttention cannot rotate, naming it, before reading a weight', () => {
    expect(() => buildTransformersFusedDecoder(tinyModelConfig({ headDim: 8 }), new Map(), 'float16')).toThrow(/head_dim 8 is not a multiple of 16/);
  });
});
