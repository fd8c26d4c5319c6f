// The train-step graph: forward over a micro-batch, mean cross-entropy on the scored positions,
// and the gradient of that mean for every LoRA matrix.
//
// The 151,936-wide logits are only formed for scored positions, in chunks, and the loss head's
// gradient is written out analytically (dh = (softmax·w)·E − w·E[target]): each chunk's
// [C, V] buffers are dead once its dh is known, and no LogSoftmax/ScatterElements (CPU-only
// under WebGPU) appear. grad() then runs from the selected hidden states with dh as seed.
// Any weight layout the decoder reads trains: float16 weights are cast to float32 where they
// are used (LoRA, loss and gradients stay float32), and a vocabulary in row chunks gets a
// loss head over chunks: a log-sum-exp shifted by the max of the chunk maxima, the target
// row read from its chunk (host-side row and mask, as for the embedding). With
// `recomputeLayers` the backward rebuilds each layer from the residual stream instead of
// keeping its activations (bench/train-step-activations.ts counts what is kept).
import { Graph, grad, type GradOptions, type Node, type Value } from '../../onnx/index.ts';
import type { Qwen3Config } from '../config.ts';
import type { LoraTarget } from '../tensors.ts';
import {
  asFloat32,
  chunksOf,
  declareLora,
  declareTokens,
  declareWeights,
  decoderLayer,
  qwen3Forward,
  times,
  vocabRows,
  type Context,
  type LoraInputs,
  type Qwen3Weights,
  type TokenInputs,
  type VocabWeight,
} from './forward.ts';
import { chunkTokens, tokenInputs, weightLayout, type VocabularyInput, type WeightLayout } from './layout.ts';
import * as names from './names.ts';

export interface TrainStepShape {
  batch: number; // B
  length: number; // T
  positions: number; // N scored positions (bucketed)
  rank: number;
  targets: readonly LoraTarget[];
  dropout: boolean;
  /** Scored positions per loss-head chunk (default: lossChunkPositions). */
  lossChunk?: number;
  /** Base weights in the decoder's transposed device layout (layout.ts decoderWeights), as Qwen3Session holds them; default: HF's. */
  transposed?: boolean;
  /** The weights' dtype and vocabulary chunks, as the session holds them (default: float32, one chunk). */
  layout?: WeightLayout;
  /**
   * Run each layer's forward again inside the backward, from the residual stream entering it
   * (gradient checkpointing per layer): the backward then holds one layer's activations rather
   * than all of them, for one more forward's work. Needs TRAIN_STEP_DISABLED_OPTIMIZERS.
   */
  recomputeLayers?: boolean;
}

/**
 * ORT optimizers a train-step session must leave out: common-subexpression elimination merges
 * the backward's recomputed casts (and any recomputation) back into the forward's nodes, which
 * then stay alive until the backward: at Qwen3-0.6B, a float32 copy of every weight (1.7 GB).
 */
export const TRAIN_STEP_DISABLED_OPTIMIZERS = ['CommonSubexpressionElimination'] as const;

export interface TrainStepGraph {
  bytes: Uint8Array;
  /** LoRA inputs whose gradients come out as gradName(param), in order. */
  params: string[];
  /** FLOPs of the graph's MatMuls (2·M·K·N each, batch axes included): the step's work. */
  matMulFlops: number;
}

const pairwiseSum = (g: Graph, vs: readonly Value[]) => vs.reduce((a, b) => g.add(a, b)); // variadic Sum runs on CPU under WebGPU

/**
 * The log-sum-exp [C, 1] of the logits of rows of h [C, D] over the LM head's chunks, and each
 * row's target logit [C, 1] (log softmax at the target = targetLogit − lse); with each chunk's
 * exp(z − max) [C, V_k], their sum [C, 1] and the target rows [C, D] that lossHead's gradient
 * reads. `head`: the LM head's chunks [V_k, D] as declared (the target rows are read from these),
 * `wide` the same as float32; [D, V_k] when `transposed`. The exponent is shifted by the max of
 * the chunk maxima; with one chunk the graph is the unchunked head.
 */
export function chunkedLogSoftmax(g: Graph, head: VocabWeight, wide: readonly Value[], transposed: boolean, h: Value, target: TokenInputs) {
  const logits = wide.map((w) => times(g, h, w, transposed)); // each [C, V_k]
  const maxima = logits.map((z) => g.reduceMax(z, [1], true)); // each [C, 1]
  const max = maxima.length === 1 ? maxima[0]! : g.reduceMax(g.concat(maxima, 1), [1], true); // [C, 1]
  const exp = logits.map((z) => g.exp(g.sub(z, max))); // each [C, V_k]
  const total = pairwiseSum(g, exp.map((e) => g.reduceSum(e, [1], true))); // [C, 1]
  const lse = g.add(g.log(total), max); // [C, 1]
  const targetRows = vocabRows(g, head, target, transposed); // [C, D]
  const targetLogit = g.reduceSum(g.mul(h, targetRows), [1], true); // [C, 1]
  return { lse, targetLogit, exp, total, targetRows };
}

/**
 * Σ w·(lse − z_target) over rows of h [C, D], and d(that)/dh [C, D] (chunkedLogSoftmax's
 * arguments; with `transposed` no product needs a chunk turned: dh comes out as (E_kᵀ·p_kᵀ)ᵀ).
 * w [C] already divided by Σw. The max only shifts the exponent, so no gradient is written
 * through it.
 */
function lossHead(g: Graph, head: VocabWeight, wide: readonly Value[], transposed: boolean, h: Value, target: TokenInputs, weight: Value) {
  const { lse, targetLogit, exp, total, targetRows } = chunkedLogSoftmax(g, head, wide, transposed, h, target);
  const wCol = g.unsqueeze(weight, [1]); // [C, 1]
  const loss = g.reduceSum(g.mul(g.sub(lse, targetLogit), wCol), [0, 1]); // []
  const expected = pairwiseSum(
    g,
    exp.map((e, k) => {
      const weighted = g.mul(g.div(e, total), wCol); // [C, V_k] softmax · w
      const w = wide[k]!;
      return transposed ? g.transpose(g.matMul(w, g.transpose(weighted))) : g.matMul(weighted, w); // [C, D]
    }),
  );
  const dh = g.sub(expected, g.mul(targetRows, wCol)); // [C, D]
  return { loss, dh };
}

/**
 * The LoRA gradients by parameter name, layer by layer from the last: d/d(stream L) through the
 * final norm, then for each layer its forward built again from the stream entering it and
 * differentiated alone, giving its LoRA gradients and d/d(stream l) for the layer below.
 */
function layerByLayer(
  g: Graph,
  c: Qwen3Config,
  f: { weights: Qwen3Weights; lora: LoraInputs; ctx: Context; stream: readonly Value[] },
  scored: Value,
  dScored: Value,
  options: GradOptions,
): Map<string, Value> {
  const grads = new Map<string, Value>();
  let dx = grad(g, scored, [f.stream[c.numLayers]!], dScored, options)[0]!; // [B, T, D]
  let above: Value[] = []; // the LoRA gradients of the layer above
  for (let l = c.numLayers - 1; l >= 0; l--) {
    // x + 0·(dx + Σ the layer above's LoRA gradients), no gradient through the second term: the
    // copy cannot start before dx exists, so a runtime cannot schedule it with the forward, nor
    // before the layer above has its LoRA gradients, which read that layer's recomputed
    // activations. Without the second tie onnxruntime (1.30, CPU) ran every layer's LoRA
    // gradients after the whole dx chain, keeping all 28 layers' recomputed activations alive:
    // ~200 MB a layer at 4 × 512 tokens (0.6B step peak 10.85 → 5.29 GB RSS, 57 → 35 s). The same
    // tie on the plain backward changed nothing (its peak is the forward's end). A non-finite
    // term makes the copy NaN, but then a gradient is non-finite anyway and the step is refused.
    const anchored = g.scope('recompute', () => {
      const tied = above.length ? g.add(dx, pairwiseSum(g, above.map((d) => g.reduceSum(d, [0, 1])))) : dx;
      return g.add(f.stream[l]!, g.stopGradient(g.mul(tied, 0)));
    });
    const again = g.scope('recompute', () => decoderLayer(g, c, f.weights, f.lora, anchored, f.ctx, l).x);
    const own = Object.values(f.lora.layers[l]!).flatMap((b) => [b.a, b.b]);
    // The embedding (stream 0) depends on no parameter: no gradient is made for it.
    const wrt = l > 0 ? [f.stream[l]!, ...own] : own;
    const d = grad(g, again, wrt, dx, options);
    above = own.map((_, i) => d[wrt.length - own.length + i]!);
    own.forEach((p, i) => grads.set(p.name, above[i]!));
    if (l > 0) dx = d[0]!;
  }
  return grads;
}

/** The scored next tokens as the loss head reads them: loss_target [N], or per vocabulary chunk a row [N] and a mask [N, 1]. */
export function declareTargets(g: Graph, layout: WeightLayout, positions: number | string): TokenInputs {
  if (layout.chunks.length === 1) return g.input(names.LOSS_TARGET, 'int64', [positions]);
  return {
    rows: layout.chunks.map((_, k) => g.input(names.lossTargetRows(k), 'int64', [positions])),
    mask: layout.chunks.map((_, k) => g.input(names.lossTargetMask(k), 'float32', [positions, 1])),
  };
}

/**
 * Host data of the step's vocabulary-indexed inputs, as buildTrainStep declares them for
 * `layout`: the token ids [batch·length] as every graph reads them (layout.ts tokenInputs), and
 * the loss targets [N] as loss_target when the vocabulary is one chunk, else per chunk the row
 * within it and a 0/1 mask (layout.ts chunkTokens), so the device does no int64 arithmetic.
 */
export function vocabularyInputs(c: Qwen3Config, layout: WeightLayout, batch: number, length: number, ids: readonly number[], targets: readonly number[]): VocabularyInput[] {
  const tokens = tokenInputs(c, layout, batch, length, ids);
  const scored = chunkTokens(c, layout, targets);
  // One chunk starts at row 0, so its rows are the targets themselves.
  if (layout.chunks.length === 1) return [...tokens, [names.LOSS_TARGET, [targets.length], scored[0]!.rows]];
  return [
    ...tokens,
    ...scored.flatMap(({ rows, mask }, k): VocabularyInput[] => [
      [names.lossTargetRows(k), [targets.length], rows],
      [names.lossTargetMask(k), [targets.length, 1], mask],
    ]),
  ];
}

/**
 * onnxruntime-web's WebGPU EP puts a tensor in the smallest of its buffer buckets that holds it
 * (src/engine/train-memory.ts ORT_WEBGPU_BUCKETS): [C, V_k] float32 logits of 128 positions at
 * V = 151,936 (78 MB) took the 128 MiB bucket, and ORT kept three alive (bench/RESULTS.md "train
 * step on WebGPU"); at most this many bytes they take the 64 MiB one.
 */
const LOSS_CHUNK_BYTES = 64 * 2 ** 20;

/**
 * Scored positions per loss-head chunk: the most whose float32 logits over the largest
 * vocabulary chunk fit LOSS_CHUNK_BYTES (110 at V = 151,936 in one chunk), at most 128. Every
 * position's log-softmax is its own, so the chunking changes only the order of the loss's sum.
 */
export function lossChunkPositions(layout: WeightLayout): number {
  const rows = Math.max(...layout.chunks.map((k) => k.rows));
  return Math.max(1, Math.min(128, Math.floor(LOSS_CHUNK_BYTES / (4 * rows))));
}

/** The train step as a Graph (for analysis: src/onnx/liveness.ts) and its LoRA inputs, in the order of their gradient outputs. */
export function trainStepGraph(c: Qwen3Config, s: TrainStepShape): { graph: Graph; params: string[] } {
  const g = new Graph('qwen3-train-step');
  const { batch: B, length: T, positions: N } = s;
  const layout = s.layout ?? weightLayout(c);
  const ids = declareTokens(g, layout, B, T);
  const ctx = {
    cos: g.input(names.ROPE_COS, 'float32', [T, c.headDim]),
    sin: g.input(names.ROPE_SIN, 'float32', [T, c.headDim]),
    bias: g.input(names.ATTN_BIAS, 'float32', [T, T]),
    past: null,
  };
  const select = g.input(names.LOSS_SELECT, 'float32', [N, B * T]);
  const target = declareTargets(g, layout, N);
  const weight = g.input(names.LOSS_WEIGHT, 'float32', [N]);
  const weights = declareWeights(g, c, layout, { transposed: s.transposed });
  const lora = declareLora(g, c, s.targets, s.rank, s.dropout ? { batch: B, length: T } : null);

  const { hidden, stream } = qwen3Forward(g, c, weights, lora, ids, ctx); // [B, T, D]
  const scored = g.matMul(select, g.reshape(hidden, [B * T, c.hiddenSize])); // [N, D]

  const count = g.reduceSum(weight, [0]); // []
  const share = g.div(weight, count); // [N] each position's share of the mean
  const losses: Value[] = [];
  const dhs: Value[] = [];
  g.scope('loss', () => {
    const chunkSize = s.lossChunk ?? lossChunkPositions(layout);
    // One float32 copy of each LM-head chunk for the whole loss head: a cast per use (with
    // TRAIN_STEP_DISABLED_OPTIMIZERS) peaked ~500 MB higher in RSS at hidden 1,024, 1 × 256
    // tokens, as ORT ran some of those casts early.
    const wide = chunksOf(weights.lmHead).map((w) => asFloat32(g, w));
    for (let start = 0; start < N; start += chunkSize) {
      const end = Math.min(N, start + chunkSize);
      const chunk = (v: Value) => g.slice(v, [start], [end], [0]);
      const targets: TokenInputs = 'name' in target ? chunk(target) : { rows: target.rows.map(chunk), mask: target.mask.map(chunk) };
      const part = lossHead(g, weights.lmHead, wide, !!s.transposed, chunk(scored), targets, chunk(share));
      losses.push(part.loss);
      dhs.push(part.dh);
    }
  });
  const loss = pairwiseSum(g, losses);
  const dScored = dhs.length === 1 ? dhs[0]! : g.concat(dhs, 0); // [N, D]

  const params = lora.layers.flatMap((layer) => Object.values(layer).flatMap((b) => [b.a, b.b]));
  // A float16 weight's float32 cast is made again where the backward reads it, so no float32
  // copy of the weights lives from the forward to the backward (TRAIN_STEP_DISABLED_OPTIMIZERS).
  const inputs = new Set(g.inputs.map((v) => v.name));
  const recompute = (n: Node) => n.op === 'Cast' && n.args[0]!.dtype === 'float16' && inputs.has(n.args[0]!.name);
  const grads = s.recomputeLayers
    ? layerByLayer(g, c, { weights, lora, ctx, stream }, scored, dScored, { recompute })
    : new Map(grad(g, scored, params, dScored, { recompute }).map((d, i) => [params[i]!.name, d]));
  g.output(loss, names.LOSS);
  g.output(count, names.TOKEN_COUNT);
  params.forEach((p) => g.output(grads.get(p.name)!, names.gradName(p.name)));
  return { graph: g, params: params.map((p) => p.name) };
}

export function buildTrainStep(c: Qwen3Config, s: TrainStepShape): TrainStepGraph {
  const { graph: g, params } = trainStepGraph(c, s);
  let matMulFlops = 0;
  for (const node of g.nodes) {
    if (node.opType !== 'MatMul') continue;
    const out = node.outputs[0]!.shape as number[];
    matMulFlops += 2 * out.reduce((a, d) => a * d, 1) * (node.args[0]!.shape.at(-1) as number);
  }
  return { bytes: g.toBytes(), params, matMulFlops };
}
