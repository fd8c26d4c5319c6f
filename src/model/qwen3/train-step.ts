// The train-step graph: forward over a micro-batch, mean cross-entropy on the scored positions,
// and the gradient of that mean for every LoRA matrix.
//
// The 151,936-wide logits are only formed for scored positions, in chunks, and the loss head's
// gradient is written out analytically (dh = (softmax·w)·E − w·E[target]): each chunk's
// [C, V] buffers are dead once its dh is known, and no LogSoftmax/ScatterElements (CPU-only
// under WebGPU) appear. grad() then runs from the selected hidden states with dh as seed.
import { Graph, grad, type Value } from '../../onnx/index.ts';
import type { Qwen3Config } from '../config.ts';
import type { LoraTarget } from '../tensors.ts';
import { declareLora, declareWeights, qwen3Forward } from './forward.ts';
import { weightLayout } from './layout.ts';
import * as names from './names.ts';

export interface TrainStepShape {
  batch: number; // B
  length: number; // T
  positions: number; // N scored positions (bucketed)
  rank: number;
  targets: readonly LoraTarget[];
  dropout: boolean;
  /** Scored positions per loss-head chunk (default 128: [C, V] fp32 logits are 78 MB). */
  lossChunk?: number;
  /** Base weights in the decoder's transposed device layout (layout.ts decoderWeights), as Qwen3Session holds them; default: HF's. */
  transposed?: boolean;
}

export interface TrainStepGraph {
  bytes: Uint8Array;
  /** LoRA inputs whose gradients come out as gradName(param), in order. */
  params: string[];
  /** FLOPs of the graph's MatMuls (2·M·K·N each, batch axes included): the step's work. */
  matMulFlops: number;
}

/**
 * Σ w·(lse − z_target) over rows of h [C, D], and d(that)/dh [C, D]. head [V, D], or [D, V]
 * when `transposed` (then no product needs the head turned: dh comes out as (Eᵀ·pᵀ)ᵀ); w [C]
 * already divided by Σw.
 */
function lossHead(g: Graph, head: Value, transposed: boolean, h: Value, target: Value, weight: Value) {
  const logits = transposed ? g.matMul(h, head) : g.matMul(h, g.transpose(head)); // [C, V]
  const max = g.reduceMax(logits, [1], true); // [C, 1]
  const exp = g.exp(g.sub(logits, max)); // [C, V]
  const sum = g.reduceSum(exp, [1], true); // [C, 1]
  const lse = g.add(g.log(sum), max); // [C, 1]
  const targetRows = transposed ? g.transpose(g.gather(head, target, 1)) : g.gather(head, target); // [C, D]
  const targetLogit = g.reduceSum(g.mul(h, targetRows), [1], true); // [C, 1]
  const wCol = g.unsqueeze(weight, [1]); // [C, 1]
  const loss = g.reduceSum(g.mul(g.sub(lse, targetLogit), wCol), [0, 1]); // []
  const probs = g.div(exp, sum); // [C, V]
  const weighted = g.mul(probs, wCol); // [C, V]
  const expected = transposed ? g.transpose(g.matMul(head, g.transpose(weighted))) : g.matMul(weighted, head); // [C, D]
  const dh = g.sub(expected, g.mul(targetRows, wCol)); // [C, D]
  return { loss, dh };
}

export function buildTrainStep(c: Qwen3Config, s: TrainStepShape): TrainStepGraph {
  const g = new Graph('qwen3-train-step');
  const { batch: B, length: T, positions: N } = s;
  const ids = g.input(names.INPUT_IDS, 'int64', [B, T]);
  const ctx = {
    cos: g.input(names.ROPE_COS, 'float32', [T, c.headDim]),
    sin: g.input(names.ROPE_SIN, 'float32', [T, c.headDim]),
    bias: g.input(names.ATTN_BIAS, 'float32', [T, T]),
    past: null,
  };
  const select = g.input(names.LOSS_SELECT, 'float32', [N, B * T]);
  const target = g.input(names.LOSS_TARGET, 'int64', [N]);
  const weight = g.input(names.LOSS_WEIGHT, 'float32', [N]);
  // The default layout: float32, the vocabulary in one chunk (a split loss head is not written yet).
  const weights = declareWeights(g, c, weightLayout(c), s.transposed);
  const [head] = weights.lmHead as readonly Value[];
  const lora = declareLora(g, c, s.targets, s.rank, s.dropout ? { batch: B, length: T } : null);

  const { hidden } = qwen3Forward(g, c, weights, lora, ids, ctx); // [B, T, D]
  const scored = g.matMul(select, g.reshape(hidden, [B * T, c.hiddenSize])); // [N, D]

  const count = g.reduceSum(weight, [0]); // []
  const share = g.div(weight, count); // [N] each position's share of the mean
  const losses: Value[] = [];
  const dhs: Value[] = [];
  g.scope('loss', () => {
    const chunkSize = s.lossChunk ?? 128;
    for (let start = 0; start < N; start += chunkSize) {
      const end = Math.min(N, start + chunkSize);
      const chunk = (v: Value) => g.slice(v, [start], [end], [0]);
      const part = lossHead(g, head!, !!s.transposed, chunk(scored), chunk(target), chunk(share));
      losses.push(part.loss);
      dhs.push(part.dh);
    }
  });
  const loss = losses.reduce((a, b) => g.add(a, b)); // pairwise: variadic Sum runs on CPU under WebGPU
  const dScored = dhs.length === 1 ? dhs[0]! : g.concat(dhs, 0); // [N, D]

  const params = lora.layers.flatMap((layer) => Object.values(layer).flatMap((b) => [b.a, b.b]));
  const grads = grad(g, scored, params, dScored);
  g.output(loss, names.LOSS);
  g.output(count, names.TOKEN_COUNT);
  params.forEach((p, i) => g.output(grads[i]!, names.gradName(p.name)));
  let matMulFlops = 0;
  for (const node of g.nodes) {
    if (node.opType !== 'MatMul') continue;
    const out = node.outputs[0]!.shape as number[];
    matMulFlops += 2 * out.reduce((a, d) => a * d, 1) * (node.args[0]!.shape.at(-1) as number);
  }
  return { bytes: g.toBytes(), params: params.map((p) => p.name), matMulFlops };
}
