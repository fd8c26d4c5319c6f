// How each graph multiplies by float16 weights (forward.ts MatrixUse): the inference graphs read
// every matrix as stored — a Cast of a whole weight each run would write and read a float32 copy
// of it (10 bytes a weight a token against 2) — and cast no weight at all (norm vectors are
// float32), while the train step and the sequence scorer keep float32 products, every sum in
// float32. Checked on the graphs themselves: what the WebGPU EP runs of them needs shader-f16,
// which CI's SwiftShader lacks (e2e/engine-f16 runs where it is); and the cost of float16 sums,
// emulated on the host.
import { describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../../scripts/make-tiny-model.ts';
import { float16Layout, relativeError } from '../../testing/numerics.ts';
import { referenceLogits } from '../../testing/qwen3-reference.ts';
import type { Graph, Node } from '../../onnx/index.ts';
import { loraTargets } from '../tensors.ts';
import { decoderGraph } from './decoder.ts';
import { fusedDecoderGraph } from './decoder-fused.ts';
import { weightLayout } from './layout.ts';
import { sequenceScorerGraph } from './score-graph.ts';
import { trainStepGraph } from './train-step.ts';

const config = tinyModelConfig({ layers: 3 });
// Five vocabulary chunks: the LM head is five MatMuls.
const layout = weightLayout(config, { weightDtype: 'float16', maxBindingBytes: Math.ceil(config.vocabSize / 5) * config.hiddenSize * 4 });

/** The float16 weight matrices (2-D graph inputs) and the nodes that read each. */
function matrixReaders(g: Graph): Map<string, Node[]> {
  const matrices = new Map(g.inputs.filter((v) => v.dtype === 'float16' && v.shape.length === 2).map((v) => [v.name, [] as Node[]]));
  for (const n of g.nodes) for (const v of n.inputs) if (v && matrices.has(v.name)) matrices.get(v.name)!.push(n);
  return matrices;
}

const castsTo = (g: Graph, dtype: string) => g.nodes.filter((n) => n.opType === 'Cast' && n.outputs[0]!.dtype === dtype);

describe('float16 weights', () => {
  it.each([
    ['fused prompt', fusedDecoderGraph(config, { layout })],
    ['fused decode', fusedDecoderGraph(config, { layout, oneToken: true })],
    ['plain decode', decoderGraph(config, { layout })],
    ['plain prefill', decoderGraph(config, { layout, past: false })],
  ])('%s: every matrix feeds a float16 MatMul as stored (none is cast), one input cast per distinct projection input', (_, g) => {
    const readers = matrixReaders(g);
    // 7 projections a layer and the LM head's 5 chunks (the tied embedding's rows are gathered, then cast).
    const products = [...readers.values()].flat().filter((n) => n.opType === 'MatMul');
    expect(products).toHaveLength(7 * config.numLayers + layout.chunks.length);
    for (const [name, nodes] of readers) {
      expect(nodes.filter((n) => n.opType === 'Cast'), name).toEqual([]);
      for (const n of nodes.filter((m) => m.opType === 'MatMul')) expect(n.inputs.map((v) => v!.dtype), name).toEqual(['float16', 'float16']);
    }
    // q/k/v share one cast of their input, gate/up another; o and down one each; the LM head one for all chunks.
    expect(castsTo(g, 'float16')).toHaveLength(4 * config.numLayers + 1);
    // Nor is any other weight cast each run: the norm vectors are float32 inputs (layout.ts).
    const inputs = new Set(g.inputs.map((v) => v.name));
    expect(g.nodes.filter((n) => n.opType === 'Cast' && inputs.has(n.inputs[0]!.name)).map((n) => n.inputs[0]!.name)).toEqual([]);
    expect(g.inputs.filter((v) => v.name.endsWith('norm.weight')).every((v) => v.dtype === 'float32')).toBe(true);
    // LoRA branches stay float32: every LoRA input is float32 and read by float32 MatMuls.
    const lora = g.inputs.filter((v) => v.name.includes('lora') && v.shape.length === 2);
    expect(lora.length).toBe(2 * loraTargets.length * config.numLayers);
    expect(lora.every((v) => v.dtype === 'float32')).toBe(true);
  });

  it.each([
    ['train step', trainStepGraph(config, { batch: 1, length: 8, positions: 8, rank: 4, targets: loraTargets, dropout: false, transposed: true, layout }).graph],
    ['sequence scorer', sequenceScorerGraph(config, { layout, lora: true })],
  ])('%s: every matrix is cast to float32 where it is used, so every product sums in float32', (_, g) => {
    const readers = matrixReaders(g);
    expect(readers.size).toBeGreaterThan(7 * config.numLayers);
    for (const [name, nodes] of readers) {
      expect(nodes.filter((n) => n.opType !== 'Cast' && n.opType !== 'Gather'), name).toEqual([]);
    }
    expect(castsTo(g, 'float16')).toEqual([]);
  });
});

describe('float16 products, emulated', () => {
  it('move the logits of e2e/engine-f16’s model by under 1e-2 of the largest logit, which that test’s 2e-2 per token allows twice', () => {
    // e2e/engine-f16's model (seed 23, hidden 64, 2 layers) on float16 weights, a 12-token prompt; the float16 sums
    // emulated on the host (testing/qwen3-reference.ts), against float64 sums of the same weights: 4.5e-3 here.
    const tiny = tinyModelConfig({ hidden: 64, layers: 2 });
    const weights = float16Layout(tinyModelWeights(tiny, 23));
    const ids = [151644, 872, 198, 14, 2152, 26865, 9190, 419, 2711, 3239, 25, 3704];
    const error = relativeError(referenceLogits(tiny, weights, ids, null, 'float16'), referenceLogits(tiny, weights, ids));
    expect(error).toBeGreaterThan(1e-3); // the emulation really rounds the sums, beyond the weights' own 8.6e-4
    expect(error).toBeLessThan(1e-2);
  });
});
