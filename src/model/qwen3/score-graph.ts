// The sequence scorer: one forward over a whole sequence and the log-probability of a given next
// token at given positions — what GRPO's reference and policy passes need of a completion, in one
// run instead of one decode step per token (the decoder returns the last position's logits only).
// Its inputs are the decoder's prefill inputs under the same names and layout (the session's
// weights, vocabulary chunks, the transposed LoRA inputs of any resident adapter), plus the scored
// positions, their targets (as the train step's loss head reads them) and 1 / temperature.
// Logits exist only at the scored rows and per vocabulary chunk, [N, V_k]: for N ≤ hidden size
// each is no larger than its LM-head chunk [D, V_k], which the layout cut to fit one binding
// (sequence-logps.ts runs longer sequences in parts of that many positions).
import { Graph, type Value } from '../../onnx/index.ts';
import type { Qwen3Config } from '../config.ts';
import { loraTargets } from '../tensors.ts';
import { asFloat32, chunksOf, declareLora, declareTokens, declareWeights, noLora, qwen3Forward } from './forward.ts';
import { weightLayout, type WeightLayout } from './layout.ts';
import * as names from './names.ts';
import { chunkedLogSoftmax, declareTargets } from './train-step.ts';

export interface SequenceScorerOptions {
  /** Weight dtype and vocabulary chunks, as the session holds them (default: float32, unsplit). */
  layout?: WeightLayout;
  /** true: the decoder's LoRA inputs (any adapter); false: the base model only. */
  lora: boolean;
  /** Fixed token and scored-position counts (a memory estimate's liveness needs sizes); default: symbolic T and N. */
  shape?: { length: number; positions: number };
}

/** The scorer as a Graph (for analysis and tests); T tokens and N scored positions stay symbolic unless `shape` fixes them. */
export function sequenceScorerGraph(c: Qwen3Config, options: SequenceScorerOptions): Graph {
  const layout = options.layout ?? weightLayout(c);
  const g = new Graph(options.lora ? 'qwen3-score-lora' : 'qwen3-score');
  const T = options.shape?.length ?? 'T';
  const N = options.shape?.positions ?? 'N';
  const ids = declareTokens(g, layout, 1, T);
  const ctx = {
    cos: g.input(names.ROPE_COS, 'float32', [T, c.headDim]),
    sin: g.input(names.ROPE_SIN, 'float32', [T, c.headDim]),
    bias: g.input(names.ATTN_BIAS, 'float32', [T, T]),
    past: null,
  };
  const positions = g.input(names.SCORE_POSITIONS, 'int64', [N]);
  const target = declareTargets(g, layout, N);
  const inverseTemperature = g.input(names.INVERSE_TEMPERATURE, 'float32', []);
  const weights = declareWeights(g, c, layout, { transposed: true }); // float32 products: the train step's numbers
  const lora = options.lora ? declareLora(g, c, loraTargets, null, null, true) : noLora(c);
  const { hidden } = qwen3Forward(g, c, weights, lora, ids, ctx); // [1, T, D]
  // (h / T)·E = logits / T: the temperature scales D numbers per row, not V.
  const rows: Value = g.mul(g.gather(g.reshape(hidden, [-1, c.hiddenSize]), positions), inverseTemperature); // [N, D]
  const wide = chunksOf(weights.lmHead).map((w) => asFloat32(g, w)); // each [D, V_k]
  const { lse, targetLogit } = chunkedLogSoftmax(g, weights.lmHead, wide, true, rows, target); // each [N, 1]
  g.output(g.squeeze(g.sub(targetLogit, lse), [1]), names.TARGET_LOGP); // [N]
  return g;
}

export const buildSequenceScorer = (c: Qwen3Config, options: SequenceScorerOptions): Uint8Array => sequenceScorerGraph(c, options).toBytes();
