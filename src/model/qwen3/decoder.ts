// The inference graph: prefill (P = 0) and decode (T = 1) are the same graph with symbolic
// T and P; outputs the last position's logits and the grown KV cache.
import { Graph } from '../../onnx/index.ts';
import type { Qwen3Config } from '../config.ts';
import { loraTargets } from '../tensors.ts';
import { declareLora, declareWeights, lmHead, qwen3Forward } from './forward.ts';
import * as names from './names.ts';

export function buildDecoder(c: Qwen3Config): Uint8Array {
  const g = new Graph('qwen3-decoder');
  const ids = g.input(names.INPUT_IDS, 'int64', ['B', 'T']);
  const ctx = {
    cos: g.input(names.ROPE_COS, 'float32', ['T', c.headDim]),
    sin: g.input(names.ROPE_SIN, 'float32', ['T', c.headDim]),
    bias: g.input(names.ATTN_BIAS, 'float32', ['T', 'S']),
    past: Array.from({ length: c.numLayers }, (_, l) => ({
      key: g.input(names.pastKey(l), 'float32', ['B', c.numKvHeads, 'P', c.headDim]),
      value: g.input(names.pastValue(l), 'float32', ['B', c.numKvHeads, 'P', c.headDim]),
    })),
  };
  const weights = declareWeights(g, c);
  const lora = declareLora(g, c, loraTargets, null, null);
  const { hidden, present } = qwen3Forward(g, c, weights, lora, ids, ctx); // [B, T, D]
  const last = g.squeeze(g.slice(hidden, [-1], [2 ** 31 - 1], [1]), [1]); // [B, D]
  g.output(lmHead(g, weights, last), names.LOGITS); // [B, V]
  present.forEach((p, l) => {
    g.output(p.key, names.presentKey(l));
    g.output(p.value, names.presentValue(l));
  });
  return g.toBytes();
}
