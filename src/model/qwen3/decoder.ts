// The inference graphs: outputs the last position's logits and the KV cache. Two variants
// of one builder: prefill (no past inputs: the first forward of a sequence, T prompt tokens)
// and decode (past K/V of P tokens, T new ones, usually 1). Prefill having no past inputs
// means no zero-length tensors are ever bound (WebGPU cannot make a 0-byte buffer) and no
// Concat with an empty operand runs. T and P stay symbolic: the cache grows by Concat, so P
// changes every step. Inference runs decoder-fused.ts's graphs where the model allows (same
// inputs, contrib ops, a preallocated cache); these are the reference and the fallback.
// Weights and LoRA matrices are inputs in the transposed device layout (layout.ts
// decoderWeights): every x·Wᵀ is one MatMul on W as uploaded (float16 ones in float16,
// forward.ts MatrixUse.half), nothing copies a weight per step.
import { Graph } from '../../onnx/index.ts';
import type { Qwen3Config } from '../config.ts';
import { loraTargets } from '../tensors.ts';
import { declareLora, declareTokens, declareWeights, lmHead, noLora, outputLogits, qwen3Forward, type DecoderPick, type HeadProduct } from './forward.ts';
import { weightLayout, type WeightLayout } from './layout.ts';
import * as names from './names.ts';

export interface DecoderOptions {
  /** Weight dtype and vocabulary chunks (default: float32, unsplit). */
  layout?: WeightLayout;
  /** true: the decode graph with past_key/past_value inputs; false: the prefill graph (default true). */
  past?: boolean;
  /** false: the base model only, no LoRA inputs (default true: any adapter, rank-1 zeros for none). */
  lora?: boolean;
  /** The logits (default) or only their argmax (forward.ts outputLogits). */
  pick?: DecoderPick;
  /** The LM head's product (forward.ts HeadProduct; default 'matmul'). */
  head?: HeadProduct;
}

export const buildDecoder = (c: Qwen3Config, options: DecoderOptions = {}): Uint8Array => decoderGraph(c, options).toBytes();

export function decoderGraph(c: Qwen3Config, options: DecoderOptions = {}): Graph {
  const layout = options.layout ?? weightLayout(c);
  const g = new Graph(options.past === false ? 'qwen3-prefill' : 'qwen3-decode');
  const ids = declareTokens(g, layout, 'B', 'T');
  const kv = ['B', c.numKvHeads, 'P', c.headDim];
  const ctx = {
    cos: g.input(names.ROPE_COS, 'float32', ['T', c.headDim]),
    sin: g.input(names.ROPE_SIN, 'float32', ['T', c.headDim]),
    bias: g.input(names.ATTN_BIAS, 'float32', ['T', 'S']),
    past:
      options.past === false
        ? null
        : Array.from({ length: c.numLayers }, (_, l) => ({ key: g.input(names.pastKey(l), 'float32', kv), value: g.input(names.pastValue(l), 'float32', kv) })),
  };
  const weights = declareWeights(g, c, layout, { transposed: true, half: true });
  const lora = options.lora === false ? noLora(c) : declareLora(g, c, loraTargets, null, null, true);
  const { hidden, present } = qwen3Forward(g, c, weights, lora, ids, ctx); // [B, T, D]
  const last = g.squeeze(g.slice(hidden, [-1], [2 ** 31 - 1], [1]), [1]); // [B, D]
  outputLogits(g, lmHead(g, weights, last, options.head), options.pick); // [B, V] or [B]
  present.forEach((p, l) => {
    g.output(p.key, names.presentKey(l)); // [B, KV, S, hd]
    g.output(p.value, names.presentValue(l));
  });
  return g;
}
