// The train-step graph against the float64 reference: its loss equals the reference's mean
// completion cross-entropy, and its LoRA gradients equal central finite differences of that
// reference loss (so forward, the analytic loss head and autodiff are all checked at once).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../../scripts/make-tiny-model.ts';
import { makeBatch, type TrainBatch } from '../../engine/batches.ts';
import { f32, floats, type Session, type Tensor } from '../../engine/runtime.ts';
import { nodeRuntime } from '../../engine/runtime-node.ts';
import { loadBundledTokenizer } from '../../engine/tokenizer-node.ts';
import { batchInputs } from '../../engine/trainer.ts';
import { referenceLogits } from '../../testing/qwen3-reference.ts';
import { loraScale, newAdapter, type LoraAdapter } from '../peft.ts';
import { projectionShape, qwen3TensorShapes, type LoraTarget } from '../tensors.ts';
import { decoderWeights, weightLayout } from './layout.ts';
import * as names from './names.ts';
import { buildAdamW } from './optimizer.ts';
import { buildTrainStep } from './train-step.ts';

const config = tinyModelConfig({ layers: 2, heads: 4, kvHeads: 2, hidden: 32, headDim: 8, intermediate: 48 });
const weights = tinyModelWeights(config, 41);
const targets: LoraTarget[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
// Random non-zero B, so A gets gradients too.
const adapter = newAdapter(config, { r: 2, alpha: 4, targets, seed: 5, bStd: 0.5 });

let batch: TrainBatch;
let session: Session;
beforeAll(async () => {
  const tokenizer = await loadBundledTokenizer();
  const examples = [
    tokenizer.example('vote online', 'lex: voter registration\nvec: register to vote'),
    tokenizer.example('rust traits', 'lex: trait bounds'),
  ];
  batch = makeBatch(examples, { maxLength: 64, lossOn: 'completion' });
  // Chunks of 8 positions: the chunked loss head (8 chunks here) is what gets checked.
  const shape = { batch: batch.batch, length: batch.length, positions: batch.lossIndex.length, rank: 2, targets, dropout: false, lossChunk: 8 };
  session = await nodeRuntime.createSession(buildTrainStep(config, shape).bytes);
});
afterAll(() => session?.release());

/** Mean CE over the batch's scored positions, from the float64 reference. */
function referenceLoss(a: LoraAdapter): number {
  let total = 0;
  for (let n = 0; n < batch.tokens; n++) {
    const flat = batch.lossIndex[n]!;
    const row = Math.floor(flat / batch.length);
    const t = flat % batch.length;
    const logits = referenceLogits(config, weights, batch.ids.slice(row * batch.length, row * batch.length + t + 1), a);
    const max = logits.reduce((m, v) => Math.max(m, v), -Infinity);
    const lse = max + Math.log(logits.reduce((s, v) => s + Math.exp(v - max), 0));
    total += lse - logits[batch.lossTarget[n]!]!;
  }
  return total / batch.tokens;
}

/** `transposed`: the base weights as Qwen3Session uploads them (decoderWeights), for a graph built with `transposed`. */
async function runStep(a: LoraAdapter, on: Session = session, dropKeep?: number, transposed = false): Promise<Record<string, Tensor>> {
  const feeds: Record<string, Tensor> = { ...batchInputs(config, batch), [names.LORA_SCALE]: f32([], [loraScale(a.config)]) };
  if (!transposed) for (const [name, dims] of qwen3TensorShapes(config)) feeds[name] = f32(dims, weights.get(name)!);
  else for (const [name, dims, data] of decoderWeights(config, weightLayout(config), weights)) feeds[name] = f32(dims, data as Float32Array);
  a.layers.forEach((pairs, layer) => {
    for (const target of targets) {
      const [out, inp] = projectionShape(config, target);
      feeds[names.loraA(layer, target)] = f32([2, inp], pairs[target]!.a);
      feeds[names.loraB(layer, target)] = f32([out, 2], pairs[target]!.b);
      if (dropKeep !== undefined) {
        feeds[names.loraDropMask(layer, target)] = f32([batch.batch, batch.length, inp], new Float32Array(batch.batch * batch.length * inp).fill(dropKeep));
      }
    }
  });
  return on.run(feeds, on.outputNames);
}

describe('train-step graph', () => {
  it('loss and token count equal the reference mean completion cross-entropy', async () => {
    const out = await runStep(adapter);
    expect(floats(out[names.TOKEN_COUNT], names.TOKEN_COUNT)[0]).toBe(batch.tokens);
    expect(batch.lossIndex.length).toBeGreaterThan(batch.tokens); // bucket padding is present and must not count
    expect(batch.tokens).toBeGreaterThan(8); // real positions span more than one chunk
    const loss = floats(out[names.LOSS], names.LOSS)[0]!;
    expect(Math.abs(loss - referenceLoss(adapter))).toBeLessThan(1e-5 * loss);
  });

  it('LoRA gradients equal central finite differences of the reference loss', async () => {
    const out = await runStep(adapter);
    const samples: Array<[number, LoraTarget, 'a' | 'b', number]> = [
      [0, 'q_proj', 'a', 3],
      [0, 'k_proj', 'b', 5],
      [0, 'v_proj', 'a', 17],
      [1, 'o_proj', 'b', 2],
      [1, 'gate_proj', 'a', 40],
      [1, 'up_proj', 'b', 9],
      [1, 'down_proj', 'a', 11],
      [0, 'down_proj', 'b', 30],
    ];
    let scale = 0;
    const pairs: Array<[number, number]> = [];
    for (const [layer, target, matrix, index] of samples) {
      const param = (matrix === 'a' ? names.loraA : names.loraB)(layer, target);
      const analytic = floats(out[names.gradName(param)], param)[index]!;
      const values = adapter.layers[layer]![target]![matrix];
      const original = values[index]!;
      values[index] = original + 1e-3;
      const up = values[index]!;
      const lossUp = referenceLoss(adapter);
      values[index] = original - 1e-3;
      const down = values[index]!;
      const lossDown = referenceLoss(adapter);
      values[index] = original;
      pairs.push([analytic, (lossUp - lossDown) / (up - down)]);
      scale = Math.max(scale, Math.abs(analytic));
    }
    expect(scale).toBeGreaterThan(1e-3);
    for (const [analytic, numeric] of pairs) expect(Math.abs(analytic - numeric)).toBeLessThan(2e-3 * scale);
  });
});

describe('train-step graph on the transposed device layout', () => {
  it('gives the loss and LoRA gradients of the HF layout (tied head: embedding read by columns)', async () => {
    const shape = { batch: batch.batch, length: batch.length, positions: batch.lossIndex.length, rank: 2, targets, dropout: false, lossChunk: 8 };
    const built = buildTrainStep(config, { ...shape, transposed: true });
    const turned = await nodeRuntime.createSession(built.bytes);
    expect(turned.inputNames).toContain(names.transposed('model.embed_tokens.weight'));
    const want = await runStep(adapter);
    const got = await runStep(adapter, turned, undefined, true);
    expect(Math.abs(floats(got[names.LOSS], names.LOSS)[0]! - floats(want[names.LOSS], names.LOSS)[0]!)).toBeLessThan(1e-6);
    for (const name of session.outputNames.filter((n) => n.startsWith('grad.'))) {
      const w = floats(want[name], name);
      const scale = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      floats(got[name], name).forEach((v, i) => expect(Math.abs(v - w[i]!)).toBeLessThanOrEqual(1e-5 * scale));
    }
    await turned.release();
  });
});

describe('train-step graph with LoRA dropout masks', () => {
  it('an all-keep mask changes nothing; a mask scaling every branch input is the LoRA scale', async () => {
    const { bytes } = buildTrainStep(config, { batch: batch.batch, length: batch.length, positions: batch.lossIndex.length, rank: 2, targets, dropout: true });
    const dropSession = await nodeRuntime.createSession(bytes);
    const plain = floats((await runStep(adapter))[names.LOSS], names.LOSS)[0]!;
    expect(floats((await runStep(adapter, dropSession, 1))[names.LOSS], names.LOSS)[0]).toBeCloseTo(plain, 5);
    // mask 2 on every branch's input = doubling alpha
    const doubled = { ...adapter, config: { ...adapter.config, alpha: 2 * adapter.config.alpha } };
    const viaMask = floats((await runStep(adapter, dropSession, 2))[names.LOSS], names.LOSS)[0]!;
    expect(viaMask).toBeCloseTo(floats((await runStep(doubled))[names.LOSS], names.LOSS)[0]!, 5);
    expect(Math.abs(viaMask - plain)).toBeGreaterThan(1e-3);
    await dropSession.release();
  });
});

describe('AdamW graph', () => {
  it('matches PyTorch AdamW with global-norm clipping, step by step', async () => {
    const dims = [3, 2];
    const settings = { betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0.01, maxGradNorm: 0.5 };
    const adamw = await nodeRuntime.createSession(buildAdamW([{ name: 'p', dims }, { name: 'q', dims: [4] }], settings));
    let state = { p: [0.5, -0.2, 0.1, 0.9, -1.2, 0.3], q: [1, 2, 3, 4], mp: Array(6).fill(0), vp: Array(6).fill(0), mq: Array(4).fill(0), vq: Array(4).fill(0) };
    const grads = [
      { p: [0.3, -0.1, 0.7, 0.2, -0.4, 0.05], q: [0.1, 0.2, -0.3, 0.4] },
      { p: [0.01, 0.02, -0.03, 0.0, 0.05, -0.01], q: [0.0, -0.02, 0.01, 0.03] },
    ];
    let expected = structuredClone(state);
    for (const [i, gr] of grads.entries()) {
      const t = i + 1;
      const lr = 0.01;
      // Reference: torch.nn.utils.clip_grad_norm_ then torch.optim.AdamW, in float64.
      const norm = Math.sqrt([...gr.p, ...gr.q].reduce((s, v) => s + v * v, 0));
      const coef = Math.min(1, settings.maxGradNorm / (norm + 1e-6));
      const update = (theta: number[], m: number[], v: number[], g: number[]) =>
        theta.map((th, j) => {
          const gj = g[j]! * coef;
          m[j] = 0.9 * m[j]! + 0.1 * gj;
          v[j] = 0.999 * v[j]! + 0.001 * gj * gj;
          const decayed = th * (1 - lr * settings.weightDecay);
          return decayed - (lr * (m[j]! / (1 - 0.9 ** t))) / (Math.sqrt(v[j]! / (1 - 0.999 ** t)) + settings.eps);
        });
      expected = { ...expected, p: update(expected.p, expected.mp, expected.vp, gr.p), q: update(expected.q, expected.mq, expected.vq, gr.q) };
      const out = await adamw.run(
        {
          p: f32(dims, state.p), q: f32([4], state.q),
          'acc.p': f32(dims, gr.p), 'acc.q': f32([4], gr.q),
          'm.p': f32(dims, state.mp), 'v.p': f32(dims, state.vp), 'm.q': f32([4], state.mq), 'v.q': f32([4], state.vq),
          lr: f32([], [lr]), bias_correction1: f32([], [1 - 0.9 ** t]), bias_correction2: f32([], [1 - 0.999 ** t]),
        },
        adamw.outputNames,
      );
      const read = (n: string) => Array.from(floats(out[n], n));
      expect(floats(out.grad_norm, 'grad_norm')[0]).toBeCloseTo(norm, 6);
      state = { p: read('p.next'), q: read('q.next'), mp: read('m.p.next'), vp: read('v.p.next'), mq: read('m.q.next'), vq: read('v.q.next') };
      state.p.forEach((v, j) => expect(v).toBeCloseTo(expected.p[j]!, 6));
      state.q.forEach((v, j) => expect(v).toBeCloseTo(expected.q[j]!, 6));
    }
    await adamw.release();
  });
});
