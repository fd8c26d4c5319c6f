// The train-step graph against the float64 reference: its loss equals the reference's mean
// completion cross-entropy, and its LoRA gradients equal central finite differences of that
// reference loss (so forward, the analytic loss head and autodiff are all checked at once).
// Every weight layout the decoder reads trains the same: a vocabulary in chunks gives the
// unchunked step's loss and gradients, float16 weights those of the float16-rounded model.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../../scripts/make-tiny-model.ts';
import { makeBatch, type TrainBatch } from '../../engine/batches.ts';
import { f32, floats, hostTensor, type Session, type Tensor } from '../../engine/runtime.ts';
import { nodeRuntime } from '../../engine/runtime-node.ts';
import { loadBundledTokenizer } from '../../engine/tokenizer-node.ts';
import { batchInputs } from '../../engine/trainer.ts';
import { float16Layout, relativeError } from '../../testing/numerics.ts';
import { referenceLogits } from '../../testing/qwen3-reference.ts';
import type { Qwen3Config } from '../config.ts';
import { f32ToF16 } from '../dtype.ts';
import { loraScale, newAdapter, type LoraAdapter } from '../peft.ts';
import { projectionPath, projectionShape, qwen3TensorShapes, type LoraTarget } from '../tensors.ts';
import { chunkName, decoderWeights, EMBED, LM_HEAD, weightLayout, type WeightData, type WeightLayout } from './layout.ts';
import { dropoutValues, type DropoutValues } from './dropout.ts';
import * as names from './names.ts';
import { buildAdamW } from './optimizer.ts';
import { liveness } from '../../onnx/liveness.ts';
import { buildTrainStep, trainStepGraph, vocabularyInputs } from './train-step.ts';

const config = tinyModelConfig({ layers: 2, heads: 4, kvHeads: 2, hidden: 32, headDim: 8, intermediate: 48 });
const weights = tinyModelWeights(config, 41);
const targets: LoraTarget[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
// Random non-zero B, so A gets gradients too.
const adapter = newAdapter(config, { r: 2, alpha: 4, targets, seed: 5, bStd: 0.5 });
/** The weights a float16 layout holds, as float32. */
const rounded = float16Layout(weights);
/** The vocabulary in 3 row chunks (in float32 sizes, as weightLayout counts). */
const split = (model: Qwen3Config, weightDtype: WeightLayout['dtype']) =>
  weightLayout(model, { weightDtype, maxBindingBytes: Math.ceil(model.vocabSize / 3) * model.hiddenSize * 4 });

let batch: TrainBatch;
let session: Session;
beforeAll(async () => {
  const tokenizer = await loadBundledTokenizer();
  const examples = [
    tokenizer.example('vote online', 'lex: voter registration\nvec: register to vote'),
    tokenizer.example('rust traits', 'lex: trait bounds\nvec: generic bounds'),
  ];
  batch = makeBatch(examples, { maxLength: 64, lossOn: 'completion' });
  // Chunks of 8 positions: the chunked loss head (21 scored of 32: 4 chunks, the last all padding) is what gets checked.
  const shape = { batch: batch.batch, length: batch.length, positions: batch.lossIndex.length, rank: 2, targets, dropout: false, lossChunk: 8 };
  session = await nodeRuntime.createSession(buildTrainStep(config, shape).bytes);
});

/** The step's graph for this batch (loss chunks of 8) in another layout. */
const stepSession = (model: Qwen3Config, options: { layout?: WeightLayout; transposed?: boolean; dropout?: boolean; recomputeLayers?: boolean } = {}) =>
  nodeRuntime.createSession(
    buildTrainStep(model, { batch: batch.batch, length: batch.length, positions: batch.lossIndex.length, rank: 2, targets, dropout: false, lossChunk: 8, ...options }).bytes,
  );

/** |Δ loss| / loss, and the largest relativeError of any LoRA gradient (of its own largest element). */
function gaps(got: Record<string, Tensor>, want: Record<string, Tensor>): { loss: number; grads: number } {
  const read = (out: Record<string, Tensor>, name: string) => floats(out[name], name);
  const grads = Object.keys(want)
    .filter((n) => n.startsWith('grad.'))
    .reduce((worst, name) => Math.max(worst, relativeError(read(got, name), read(want, name))), 0);
  return { loss: relativeError(read(got, names.LOSS), read(want, names.LOSS)), grads };
}
afterAll(() => session?.release());

/** Mean CE over the batch's scored positions, from the float64 reference. */
function referenceLoss(a: LoraAdapter, base: Map<string, Float32Array> = weights): number {
  let total = 0;
  for (let n = 0; n < batch.tokens; n++) {
    const flat = batch.lossIndex[n]!;
    const row = Math.floor(flat / batch.length);
    const t = flat % batch.length;
    const logits = referenceLogits(config, base, batch.ids.slice(row * batch.length, row * batch.length + t + 1), a);
    const max = logits.reduce((m, v) => Math.max(m, v), -Infinity);
    const lse = max + Math.log(logits.reduce((s, v) => s + Math.exp(v - max), 0));
    total += lse - logits[batch.lossTarget[n]!]!;
  }
  return total / batch.tokens;
}

/** How a step is fed: base weights in HF's or the decoder's transposed layout, in `layout`'s dtype and chunks. */
interface Feeding {
  model?: Qwen3Config;
  weights?: ReadonlyMap<string, Float32Array>;
  layout?: WeightLayout;
  transposed?: boolean;
  /** The dropout inputs (graphs built with dropout). */
  dropout?: DropoutValues;
}

const float16 = (data: Float32Array) => Uint16Array.from(data, (v) => f32ToF16(v));
const weightTensor = (dims: number[], data: WeightData) => hostTensor(data instanceof Uint16Array ? 'float16' : 'float32', dims, data);

/** The checkpoint's tensors under HF names and layout, vocabulary tensors cut into `layout`'s row chunks. */
function* hfInputs(model: Qwen3Config, layout: WeightLayout, weights: ReadonlyMap<string, Float32Array>): Generator<[string, number[], WeightData]> {
  for (const [name, dims] of qwen3TensorShapes(model)) {
    const data = weights.get(name)!;
    const pieces = name === EMBED || name === LM_HEAD ? layout.chunks.map(({ start, rows }, k) => ({ start, rows, input: chunkName(name, k, layout) })) : [{ start: 0, rows: dims[0]!, input: name }];
    for (const { start, rows, input } of pieces) {
      const cols = data.length / dims[0]!;
      const piece = data.subarray(start * cols, (start + rows) * cols);
      yield [input, dims.length === 1 ? dims : [rows, cols], layout.dtype === 'float16' ? float16(piece) : piece];
    }
  }
}

async function runStep(a: LoraAdapter, on: Session = session, feeding: Feeding = {}): Promise<Record<string, Tensor>> {
  const { model = config, weights: base = weights, transposed = false, dropout } = feeding;
  const layout = feeding.layout ?? weightLayout(model);
  const feeds: Record<string, Tensor> = { ...batchInputs(model, batch, layout), [names.LORA_SCALE]: f32([], [loraScale(a.config)]) };
  for (const [name, dims, data] of (transposed ? decoderWeights : hfInputs)(model, layout, base)) feeds[name] = weightTensor(dims, data);
  a.layers.forEach((pairs, layer) => {
    for (const target of targets) {
      const [out, inp] = projectionShape(model, target);
      feeds[names.loraA(layer, target)] = f32([2, inp], pairs[target]!.a);
      feeds[names.loraB(layer, target)] = f32([out, 2], pairs[target]!.b);
    }
  });
  if (dropout) {
    feeds[names.DROPOUT_RUN_KEY] = hostTensor('int32', [], Int32Array.of(dropout.runKey));
    feeds[names.DROPOUT_STEP_KEY] = hostTensor('int32', [], Int32Array.of(dropout.stepKey));
    feeds[names.DROPOUT_THRESHOLD] = hostTensor('int32', [], Int32Array.of(dropout.threshold));
    feeds[names.DROPOUT_SCALE] = f32([], [dropout.scale]);
  }
  return on.run(feeds, on.outputNames);
}

// The float16 case is checked against the reference on the float16-rounded weights.
describe.each([
  ['float32, one vocabulary chunk, HF layout', () => session, {}, weights],
  ['float16, 3 vocabulary chunks, transposed', () => stepSession(config, { layout: split(config, 'float16'), transposed: true }), { layout: split(config, 'float16'), transposed: true }, rounded],
] as const)('train-step graph (%s)', (_, open, feeding, reference) => {
  let on: Session;
  beforeAll(async () => (on = await open()));
  afterAll(() => (on === session ? undefined : on?.release()));

  it('loss and token count equal the reference mean completion cross-entropy', async () => {
    const out = await runStep(adapter, on, feeding);
    expect(floats(out[names.TOKEN_COUNT], names.TOKEN_COUNT)[0]).toBe(batch.tokens);
    expect(batch.lossIndex.length).toBeGreaterThan(batch.tokens); // bucket padding is present and must not count
    expect(batch.tokens).toBeGreaterThan(8); // real positions span more than one chunk
    const loss = floats(out[names.LOSS], names.LOSS)[0]!;
    expect(Math.abs(loss - referenceLoss(adapter, reference))).toBeLessThan(1e-5 * loss);
  });

  it('LoRA gradients equal central finite differences of the reference loss', async () => {
    const out = await runStep(adapter, on, feeding);
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
      const lossUp = referenceLoss(adapter, reference);
      values[index] = original - 1e-3;
      const down = values[index]!;
      const lossDown = referenceLoss(adapter, reference);
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
    const got = await runStep(adapter, turned, { transposed: true });
    // Relative: the two layouts sum the products in different orders, and at a loss of ~12 one
    // float32 step is 9.5e-7 (an AMD EPYC's CPU kernels ended 2 steps apart, an Intel Xeon's 1).
    const loss = floats(want[names.LOSS], names.LOSS)[0]!;
    expect(Math.abs(floats(got[names.LOSS], names.LOSS)[0]! - loss)).toBeLessThan(1e-6 * Math.abs(loss));
    for (const name of session.outputNames.filter((n) => n.startsWith('grad.'))) {
      const w = floats(want[name], name);
      const scale = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      floats(got[name], name).forEach((v, i) => expect(Math.abs(v - w[i]!)).toBeLessThanOrEqual(1e-5 * scale));
    }
    await turned.release();
  });
});

describe('train-step graph over vocabulary chunks', () => {
  const untied = { ...config, tieWordEmbeddings: false };
  const untiedWeights = tinyModelWeights(untied, 43);
  it.each([
    ['tied', false, config, weights],
    ['tied', true, config, weights],
    ['untied', false, untied, untiedWeights],
    ['untied', true, untied, untiedWeights],
  ] as const)('%s, transposed %s: 3 chunks give the loss and LoRA gradients of one', async (_, transposed, model, base) => {
    const layout = split(model, 'float32');
    const inChunk = (ids: readonly number[]) => new Set(ids.map((id) => layout.chunks.findIndex((c) => id >= c.start && id < c.start + c.rows)));
    expect(inChunk(batch.ids).size).toBeGreaterThan(1); // the embedding really sums over chunks
    expect(inChunk(batch.lossTarget.filter((_, n) => batch.lossWeight[n])).size).toBeGreaterThan(1); // so does the target pick
    const [whole, chunked] = [await stepSession(model, { transposed }), await stepSession(model, { layout, transposed })];
    expect(chunked.inputNames).toContain(names.lossTargetMask(2));
    expect(chunked.inputNames).not.toContain(names.INPUT_IDS);
    const gap = gaps(await runStep(adapter, chunked, { model, weights: base, layout, transposed }), await runStep(adapter, whole, { model, weights: base, transposed }));
    // Measured: loss ≤ 8e-8, gradients ≤ 3.1e-6 (tied, transposed): float32 sums over V in another order.
    expect(gap.loss).toBeLessThan(1e-6);
    expect(gap.grads).toBeLessThan(1e-5);
    await Promise.all([whole.release(), chunked.release()]);
  });
});

describe('train-step graph on float16 weights', () => {
  it('gives the step of the float16-rounded float32 weights; the rounding itself moves the gradients ~1e-2', async () => {
    const layout = weightLayout(config, { weightDtype: 'float16' });
    const [half, full] = [await stepSession(config, { layout, transposed: true }), await stepSession(config, { transposed: true })];
    expect(half.inputNames).toContain(names.transposed(EMBED));
    const got = await runStep(adapter, half, { layout, transposed: true });
    const same = gaps(got, await runStep(adapter, full, { weights: rounded, transposed: true }));
    // Measured: loss equal, gradients within 2.2e-6 (float32 noise: the casts are exact).
    expect(same.loss).toBeLessThan(1e-6);
    expect(same.grads).toBeLessThan(1e-5);
    // Measured against the float32 weights: loss 1.6e-7, gradients 1.4e-2 (of each gradient's largest element).
    const rounding = gaps(got, await runStep(adapter, full, { transposed: true }));
    expect(rounding.grads).toBeGreaterThan(1e-4); // the weights really were float16
    expect(rounding.grads).toBeLessThan(5e-2);
    expect(rounding.loss).toBeLessThan(1e-5);
    await Promise.all([half.release(), full.release()]);
  });

  it('keeps no float32 copy of a weight for the backward: it casts again where it reads one, and nothing it casts goes unread', () => {
    const shape = { batch: batch.batch, length: batch.length, positions: batch.lossIndex.length, rank: 2, targets, dropout: false, transposed: true };
    const kept = (layout: WeightLayout) => {
      const { graph } = trainStepGraph(config, { ...shape, layout });
      const read = new Set([...graph.nodes.flatMap((n) => n.inputs.map((v) => v?.name)), ...graph.outputs.map((v) => v.name)]);
      expect(graph.nodes.filter((n) => !n.outputs.some((o) => read.has(o.name))).map((n) => n.name)).toEqual([]);
      const casts = graph.nodes.filter((n) => n.opType === 'Cast' && n.args[0]!.dtype === 'float16');
      return { casts, kept: liveness(graph).kept };
    };
    const half = kept(weightLayout(config, { weightDtype: 'float16' }));
    const full = kept(weightLayout(config));
    // The last layer's projections (all on the path from the loss to a LoRA matrix, for dx) are cast again in the backward.
    const recast = new Set(half.casts.filter((n) => n.name.startsWith('grad/')).map((n) => n.args[0]!.name));
    for (const t of targets) expect(recast).toContain(names.transposed(`${projectionPath(config.numLayers - 1, t)}.weight`));
    expect([...recast].filter((name) => name.endsWith('norm.weight'))).toEqual([]); // norm vectors are float32 in every layout
    expect(half.kept.filter((v) => half.casts.some((n) => n.outputs[0]!.name === v.name))).toEqual([]);
    expect(half.kept.reduce((n, v) => n + v.bytes, 0)).toBe(full.kept.reduce((n, v) => n + v.bytes, 0));
  });
});

describe('train-step graph recomputing each layer in the backward', () => {
  it.each([
    ['float32, one chunk, HF layout', {}],
    ['float16, 3 vocabulary chunks, transposed', { layout: split(config, 'float16'), transposed: true }],
  ] as const)('%s: the loss and LoRA gradients of the plain step, keeping only the residual stream', async (_, feeding) => {
    const [plain, again] = [await stepSession(config, feeding), await stepSession(config, { ...feeding, recomputeLayers: true })];
    const gap = gaps(await runStep(adapter, again, feeding), await runStep(adapter, plain, feeding));
    expect(gap.loss).toBe(0);
    expect(gap.grads).toBeLessThan(1e-6);
    await Promise.all([plain.release(), again.release()]);
    const shape = { batch: batch.batch, length: batch.length, positions: batch.lossIndex.length, rank: 2, targets, dropout: false, ...feeding };
    const kept = (recomputeLayers: boolean) =>
      liveness(trainStepGraph(config, { ...shape, recomputeLayers }).graph, (n) => n.startsWith('grad/') || n.startsWith('recompute/')).kept;
    // The stream entering each layer [B, T, D] and the final norm's few: nothing of a layer's inside.
    const stream = batch.batch * batch.length * config.hiddenSize * 4;
    const recomputed = kept(true).reduce((n, v) => n + v.bytes, 0);
    expect(recomputed).toBeLessThan((config.numLayers + 4) * stream);
    expect(kept(false).reduce((n, v) => n + v.bytes, 0)).toBeGreaterThan(5 * recomputed);
  });

  it("holds each layer's recompute until the layer above has its LoRA gradients, so no runtime can leave those to the end", () => {
    // A runtime orders the nodes its own way (onnxruntime 1.30 on CPU ran every layer's LoRA
    // gradients after the whole dx chain, each layer's recomputed activations alive until then):
    // only a dependency keeps them layer by layer. Here every LoRA gradient of layer l + 1 must be
    // an ancestor of every one of layer l.
    const deep = tinyModelConfig({ layers: 4, heads: 4, kvHeads: 2, hidden: 32, headDim: 8, intermediate: 48 });
    const { graph, params } = trainStepGraph(deep, { batch: 1, length: 8, positions: 7, rank: 2, targets, dropout: false, recomputeLayers: true });
    const producer = new Map(graph.nodes.flatMap((n) => n.outputs.map((v) => [v.name, n] as const)));
    const ancestors = (name: string): Set<string> => {
      const seen = new Set<string>();
      const todo = [name];
      while (todo.length) {
        for (const v of producer.get(todo.pop()!)?.inputs ?? []) if (v && !seen.has(v.name)) (seen.add(v.name), todo.push(v.name));
      }
      return seen;
    };
    const layerGrads = (l: number) => params.filter((p) => p.startsWith(`lora.${l}.`)).map(names.gradName);
    for (let l = 0; l < deep.numLayers - 1; l++) {
      expect(layerGrads(l + 1)).toHaveLength(2 * targets.length);
      for (const below of layerGrads(l)) {
        const before = ancestors(below);
        expect(layerGrads(l + 1).filter((above) => !before.has(above)), `layer ${l}: ${below}`).toEqual([]);
      }
    }
  });
});

describe('vocabularyInputs', () => {
  it('refuses ids outside the vocabulary and a micro-batch of the wrong size, naming them', () => {
    const layout = split(config, 'float32');
    expect(() => vocabularyInputs(config, layout, 1, 2, [5, 6], [config.vocabSize])).toThrow(`token 0: id ${config.vocabSize} is outside the vocabulary [0, ${config.vocabSize})`);
    expect(() => vocabularyInputs(config, weightLayout(config), 2, 2, [5, 6], [1])).toThrow('tokenInputs: 2 × 2 tokens need 4 ids, got 2');
  });
});

describe('train-step graph with LoRA dropout masks', () => {
  it('keeping every element changes nothing; a scale on every kept branch input is the LoRA scale', async () => {
    const { bytes } = buildTrainStep(config, { batch: batch.batch, length: batch.length, positions: batch.lossIndex.length, rank: 2, targets, dropout: true });
    const dropSession = await nodeRuntime.createSession(bytes);
    const plain = floats((await runStep(adapter))[names.LOSS], names.LOSS)[0]!;
    const keepAll = dropoutValues(0.1, 7, 0, 0, false);
    expect(keepAll.scale).toBe(1);
    expect(floats((await runStep(adapter, dropSession, { dropout: keepAll }))[names.LOSS], names.LOSS)[0]).toBeCloseTo(plain, 5);
    // scale 2 on every branch's input = doubling alpha
    const doubled = { ...adapter, config: { ...adapter.config, alpha: 2 * adapter.config.alpha } };
    const viaMask = floats((await runStep(adapter, dropSession, { dropout: { ...keepAll, scale: 2 } }))[names.LOSS], names.LOSS)[0]!;
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
