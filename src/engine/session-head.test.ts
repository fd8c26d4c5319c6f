// The LM head by rows (forward.ts HeadProduct 'rows'), what a session on a fallback adapter runs:
// the graphs multiply each float32 head chunk by one Einsum in place of its MatMul, and each q4
// chunk by MatMulNBits on the rows repeated 4 times (float16 chunks keep their MatMul), and a
// session built so computes the logits of the MatMul head — batches of rows, prefill and decode
// steps, tied and untied heads, unsplit and in vocabulary chunks, q4, with an adapter — and
// generates the same greedy tokens. onnxruntime-node runs both products on the CPU;
// e2e/engine.e2e checks that a session on SwiftShader picks 'rows' and places it on the GPU.
import { afterAll, describe, expect, it } from 'vitest';
import { tinyModelConfig, tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import type { Qwen3Config } from '../model/config.ts';
import { newAdapter } from '../model/peft.ts';
import { Graph, type Node } from '../onnx/index.ts';
import { decoderGraph } from '../model/qwen3/decoder.ts';
import { fusedDecoderGraph } from '../model/qwen3/decoder-fused.ts';
import { declareWeights, lmHead } from '../model/qwen3/forward.ts';
import { weightLayout, type LayoutOptions } from '../model/qwen3/layout.ts';
import { loraTargets } from '../model/tensors.ts';
import { relativeError } from '../testing/numerics.ts';
import { generate } from './generate.ts';
import { nodeRuntime } from './runtime-node.ts';
import { defaultSampling } from './sampling.ts';
import { Qwen3Session, type Qwen3SessionOptions } from './session.ts';

const tied = tinyModelConfig({ hidden: 64, headDim: 16, intermediate: 96 });
const untied = tinyModelConfig({ hidden: 64, headDim: 16, heads: 6, kvHeads: 2, intermediate: 96, untied: true });
const chunks3 = (c: Qwen3Config): LayoutOptions => ({ maxBindingBytes: Math.ceil(c.vocabSize / 3) * c.hiddenSize * 4 });

/** The nodes that read the LM head's chunks (the tied embedding's, under their own names, for a tied model). */
function headReaders(g: Graph, c: Qwen3Config): Node[] {
  const head = c.tieWordEmbeddings ? 'embed_tokens' : 'lm_head';
  const inputs = new Set(g.inputs.filter((v) => v.name.includes(head)).map((v) => v.name));
  return g.nodes.filter((n) => n.opType !== 'Gather' && n.opType !== 'GatherBlockQuantized' && n.inputs.some((v) => v && inputs.has(v.name)));
}

describe("the LM head 'rows' in the graphs", () => {
  it.each([
    ['tied, unsplit', tied, {}],
    ['untied, 3 vocabulary chunks', untied, chunks3(untied)],
  ] satisfies Array<[string, Qwen3Config, LayoutOptions]>)('%s: an Einsum per float32 chunk in each decoder graph, no MatMul', (_, c, options) => {
    const layout = weightLayout(c, options);
    for (const g of [fusedDecoderGraph(c, { layout, head: 'rows' }), fusedDecoderGraph(c, { layout, head: 'rows', oneToken: true }), decoderGraph(c, { layout, head: 'rows' })]) {
      expect(headReaders(g, c).map((n) => n.opType)).toEqual(layout.chunks.map(() => 'Einsum'));
      expect(headReaders(decoderGraph(c, { layout }), c).map((n) => n.opType)).toEqual(layout.chunks.map(() => 'MatMul'));
    }
  });

  it('q4 chunks: MatMulNBits on the rows repeated 4 times, its first quarter kept; float16 chunks keep their MatMul', () => {
    const q4 = weightLayout(untied, { ...chunks3(untied), weightDtype: 'q4' });
    const g = fusedDecoderGraph(untied, { layout: q4, head: 'rows', oneToken: true });
    const products = headReaders(g, untied);
    expect(products.map((n) => n.opType)).toEqual(q4.chunks.map(() => 'MatMulNBits'));
    for (const n of products) {
      const rows = g.nodes.find((m) => m.outputs.includes(n.inputs[0]!))!;
      expect([rows.opType, new Set(rows.inputs.map((v) => v!.name)).size, rows.inputs.length]).toEqual(['Concat', 1, 4]);
      const split = g.nodes.filter((m) => m.inputs.includes(n.outputs[0]!));
      expect(split.map((m) => [m.opType, m.outputs.length])).toEqual([['Split', 4]]);
    }
    const f16 = weightLayout(untied, { ...chunks3(untied), weightDtype: 'float16' });
    const ops = headReaders(fusedDecoderGraph(untied, { layout: f16, head: 'rows', oneToken: true }), untied).map((n) => n.opType);
    expect(ops).toEqual(f16.chunks.map(() => 'MatMul'));
  });

  it('takes rows [B, D] and a transposed head only', () => {
    const g = new Graph('head');
    const w = declareWeights(g, tied, weightLayout(tied), { transposed: true });
    expect(() => lmHead(g, w, g.input('h', 'float32', [1, 2, tied.hiddenSize]), 'rows')).toThrow(/'rows' product takes rows \[B, D\] and a transposed head \[D, V\], got h \[1, 2, 64\]/);
    const plain = new Graph('head');
    const v = declareWeights(plain, tied, weightLayout(tied));
    expect(() => lmHead(plain, v, plain.input('h', 'float32', [1, tied.hiddenSize]), 'rows')).toThrow(/transposed head/);
  });
});

const sessions: Qwen3Session[] = [];
afterAll(async () => {
  for (const s of sessions) await s.release();
});
async function load(c: Qwen3Config, options: Qwen3SessionOptions) {
  const s = await Qwen3Session.load(nodeRuntime, c, tinyModelWeights(c, 37), options);
  sessions.push(s);
  await s.setAdapter(newAdapter(c, { r: 2, alpha: 4, targets: [...loraTargets], seed: 3, bStd: 0.2 }));
  return s;
}

/** Two rows' prompts, then three decode steps: the logits of every run, row by row. */
async function rowsLogits(s: Qwen3Session): Promise<Float32Array[]> {
  await s.reset();
  const out = await s.forwardRows([
    [151644, 872, 198, 40000, 3, 2152],
    [26865, 7, 151935, 11, 500, 77],
  ]);
  for (const step of [[17, 90000], [151643, 12], [8, 4]]) out.push(...(await s.forwardRows(step.map((id) => [id]))));
  return out;
}

describe("a session with the LM head 'rows'", () => {
  it.each([
    ['fused, tied, unsplit', tied, {}],
    ['fused, untied, 3 vocabulary chunks', untied, chunks3(untied)],
    ['plain, tied, 3 vocabulary chunks', tied, { ...chunks3(tied), decoder: 'plain' }],
    ['fused, untied, q4 weights', untied, { weightDtype: 'q4' }],
  ] satisfies Array<[string, Qwen3Config, Qwen3SessionOptions]>)('%s: the MatMul head’s logits within 1e-5 and its greedy tokens', async (_, c, options) => {
    const [rows, matmul] = [await load(c, { ...options, head: 'rows' }), await load(c, { ...options, head: 'matmul' })];
    expect([rows.head, matmul.head]).toEqual(['rows', 'matmul']);
    // The sessions run different graphs (the head's, as the tests above check).
    expect(rows.decoderBytes('adapter', true)).not.toEqual(matmul.decoderBytes('adapter', true));
    const [got, want] = [await rowsLogits(rows), await rowsLogits(matmul)];
    got.forEach((logits, i) => expect(relativeError(logits, want[i]!)).toBeLessThan(1e-5));
    // Runs differ from each other far beyond the tolerance: equal logits are not an accident.
    expect(relativeError(want[0]!, want[1]!)).toBeGreaterThan(1e-2);
    const greedy = { ...defaultSampling, greedy: true, maxNewTokens: 12, stopTokens: [] };
    const prompt = [151644, 872, 198, 9190, 151645, 198];
    for (const s of [rows, matmul]) await s.reset();
    expect((await generate(rows, prompt, greedy)).ids).toEqual((await generate(matmul, prompt, greedy)).ids);
  });

  it('is not the default on onnxruntime-node, which is no fallback adapter', async () => {
    expect((await load(tied, {})).head).toBe('matmul');
  });
});
