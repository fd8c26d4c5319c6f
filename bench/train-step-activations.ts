// Activation memory of the train-step graph at a model's shape, from the graph alone (no
// weights, no runtime): the peak of intermediates in build order (src/onnx/liveness.ts), what
// is alive there, and what the backward pass keeps from the forward, grouped by kind.
//   npx tsx bench/train-step-activations.ts [--batch 4] [--length 512] [--positions N] [--rank 16] [--dtype float16] [--recompute]
import { parseArgs } from 'node:util';
import { tinyModelConfig } from '../scripts/make-tiny-model.ts';
import { weightLayout, type WeightDtype } from '../src/model/qwen3/layout.ts';
import { trainStepGraph } from '../src/model/qwen3/train-step.ts';
import { loraTargets } from '../src/model/tensors.ts';
import { liveness, type LiveValue } from '../src/onnx/liveness.ts';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '4' },
    length: { type: 'string', default: '512' },
    positions: { type: 'string' },
    rank: { type: 'string', default: '16' },
    dtype: { type: 'string', default: 'float32' },
    binding: { type: 'string' }, // maxBindingBytes: splits the vocabulary
    recompute: { type: 'boolean', default: false }, // recomputeLayers
  },
});
const [B, T, rank] = [Number(values.batch), Number(values.length), Number(values.rank)];
const N = Number(values.positions ?? B * T);
// Qwen3-0.6B's shape (design.md "Qwen3 in one page").
const config = tinyModelConfig({ hidden: 1024, intermediate: 3072, layers: 28, heads: 16, kvHeads: 8, headDim: 128 });
const layout = weightLayout(config, { weightDtype: values.dtype as WeightDtype, maxBindingBytes: values.binding ? Number(values.binding) : undefined });

const started = performance.now();
const { graph } = trainStepGraph(config, { batch: B, length: T, positions: N, rank, targets: loraTargets, dropout: false, layout, transposed: true, recomputeLayers: values.recompute });
const built = performance.now();
// Recomputed layers belong to the backward: what they make is not kept from the forward.
const live = liveness(graph, (node) => node.startsWith('grad/') || node.startsWith('recompute/'));
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** Values grouped by the op that made them (layer numbers dropped) and shape. */
function groups(values: readonly LiveValue[]): string[] {
  const by = new Map<string, { bytes: number; count: number }>();
  for (const v of values) {
    const op = v.node.replace(/layer\d+\//g, '').replace(/_\d+$/, '');
    const key = `${op} [${v.shape.join(', ')}]`;
    const g = by.get(key) ?? { bytes: 0, count: 0 };
    by.set(key, { bytes: g.bytes + v.bytes, count: g.count + 1 });
  }
  return [...by].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 14).map(([k, g]) => `  ${mb(g.bytes).padStart(9)}  ${String(g.count).padStart(4)} × ${k}`);
}

const total = (vs: readonly LiveValue[]) => vs.reduce((n, v) => n + v.bytes, 0);
console.log(
  `Qwen3-0.6B shape, batch ${B} × length ${T}, ${N} scored positions, r ${rank}, 7 targets, ${layout.dtype} weights, ` +
    `${layout.chunks.length} vocabulary chunk(s)${values.recompute ? ', layers recomputed' : ''}`,
);
console.log(`graph: ${graph.nodes.length} nodes, built in ${((built - started) / 1000).toFixed(1)} s`);
console.log(`peak of intermediates (build order): ${mb(live.peakBytes)} at ${live.peakNode}`);
console.log(`kept by the backward from the forward: ${mb(total(live.kept))} in ${live.kept.length} tensors; largest kinds:`);
console.log(groups(live.kept).join('\n'));
console.log(`alive at the peak, largest kinds:`);
console.log(groups(live.atPeak).join('\n'));
