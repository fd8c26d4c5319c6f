// float16 weights in the inference graphs (forward.ts MatrixUse.half), without a GPU: (1) the bytes a
// decoded token moves through the fused decode graph at Qwen3-0.6B's shape, read off the graph — each
// Cast's input and output, each MatMul's weight operand — beside what casting every weight at its use
// moved (2 bytes read, a float32 copy of 4 written and read again); (2) what summing in float16 (as
// onnxruntime-web's WebGPU MatMul does on float16 operands) costs in the logits of seeded models,
// emulated by testing/qwen3-reference.ts, against exact sums of the float32 weights; (3) decode ms a
// token on onnxruntime-node, f32 against f16 weights (its CPU EP has no float16 MatMul and casts
// around the node itself, so there f16 still casts every weight each run); (4) the same errors
// measured on onnxruntime's WebGPU EP, the kernels onnxruntime-web runs, through onnxruntime-node on
// Dawn where a Vulkan driver has shader-f16 (Mesa 25's lavapipe; .ci/run installs it), the emulation's
// models and one of Qwen3-0.6B's width (hidden 1,024, ffn 3,072, 4 layers; exact there = the CPU EP's
// float32 logits, the float64 reference being too slow at that size).
//   npx tsx bench/f16-products.ts
import { tinyModelConfig, tinyModelWeights } from '../scripts/make-tiny-model.ts';
import { generate } from '../src/engine/generate.ts';
import { createNodeRuntime, nodeRuntime, nodeWebGpuRefusal } from '../src/engine/runtime-node.ts';
import { argmax } from '../src/engine/sampling.ts';
import { Qwen3Session } from '../src/engine/session.ts';
import { parseQwen3Config } from '../src/model/config.ts';
import { fusedDecoderGraph } from '../src/model/qwen3/decoder-fused.ts';
import { weightLayout } from '../src/model/qwen3/layout.ts';
import type { Value } from '../src/onnx/index.ts';
import { float16Layout, relativeError } from '../src/testing/numerics.ts';
import { QWEN3_06B_CONFIG } from '../src/testing/qwen3-configs.ts';
import { referenceLogits } from '../src/testing/qwen3-reference.ts';

const GB = 1e9;
const config = parseQwen3Config(QWEN3_06B_CONFIG, 'config.json');
const graph = fusedDecoderGraph(config, { layout: weightLayout(config, { weightDtype: 'float16', maxBindingBytes: 2 ** 30 }), lora: false, oneToken: true });
// One decoded token: every symbolic dimension (B, T) is 1.
const elements = (v: Value) => v.shape.reduce<number>((n, d) => n * (typeof d === 'number' ? d : 1), 1);
const bytes = (v: Value) => elements(v) * (v.dtype === 'float16' ? 2 : 4);
const inputs = new Set(graph.inputs.map((v) => v.name));
const matrices = graph.nodes.flatMap((n) => (n.opType === 'MatMul' ? n.inputs.filter((v): v is Value => !!v && inputs.has(v.name)) : []));
const casts = graph.nodes.filter((n) => n.opType === 'Cast');
const castBytes = casts.reduce((sum, n) => sum + bytes(n.inputs[0]!) + bytes(n.outputs[0]!), 0);
const weightElements = matrices.reduce((sum, v) => sum + elements(v), 0);
console.log(`fused decode step, Qwen3-0.6B's shape, f16 weights, one token: ${graph.nodes.length} graph nodes, ${matrices.length} MatMuls on a weight (${(weightElements / 1e6).toFixed(1)} M weights), ${casts.length} casts`);
console.log(`| | bytes a token |\n|---|---:|`);
console.log(`| now: weights read as stored + every cast's input and output | ${((weightElements * 2 + castBytes) / GB).toFixed(2)} GB |`);
console.log(`| cast at use: each weight read (2 B), its float32 copy written and read (4 + 4 B) | ${((weightElements * 10) / GB).toFixed(2)} GB |`);

const rms = (got: ArrayLike<number>, want: ArrayLike<number>) => {
  let d = 0;
  let s = 0;
  for (let i = 0; i < want.length; i++) [d, s] = [d + (got[i]! - want[i]!) ** 2, s + want[i]! ** 2];
  return Math.sqrt(d / s);
};
const prompt = [151644, 872, 198, 14, 2152, 26865, 9190, 419, 2711, 3239, 25, 3704];
const models = [
  ...[23, 1, 2, 3].map((seed) => ({ label: `tiny (hidden 64, 2 layers), seed ${seed}`, config: tinyModelConfig({ hidden: 64, layers: 2 }), seed, ids: prompt })),
  { label: 'mid (hidden 512, 4 layers, ffn 1536), seed 8', config: tinyModelConfig({ hidden: 512, layers: 4, heads: 8, kvHeads: 4, headDim: 64, intermediate: 1536 }), seed: 8, ids: prompt.slice(0, 6) },
];
console.log('\nlogit error against exact sums of the float32 weights (max |Δ| / max |logit|, RMS Δ / RMS logit):');
console.log('| model | f16 weights, exact sums | f16 weights, float16 sums | top-1 kept |\n|---|---:|---:|---|');
for (const m of models) {
  const full = tinyModelWeights(m.config, m.seed);
  const half = float16Layout(full);
  const exact = referenceLogits(m.config, full, m.ids);
  const stored = referenceLogits(m.config, half, m.ids);
  const summed = referenceLogits(m.config, half, m.ids, null, 'float16');
  const pair = (got: Float64Array) => `${relativeError(got, exact).toExponential(1)} / ${rms(got, exact).toExponential(1)}`;
  console.log(`| ${m.label} | ${pair(stored)} | ${pair(summed)} | ${argmax(summed) === argmax(exact) ? 'yes' : 'no'} |`);
}

const mid = models.at(-1)!;
const tokens = 33;
console.log(`\nonnxruntime-node, ${mid.label}, ${prompt.length}-token prompt, ${tokens} greedy tokens (prefill included), two rounds:`);
for (const round of [1, 2]) {
  for (const weightDtype of ['float32', 'float16'] as const) {
    const session = await Qwen3Session.load(nodeRuntime, mid.config, tinyModelWeights(mid.config, mid.seed), { weightDtype });
    const greedy = { greedy: true, temperature: 1, topK: 0, topP: 1, seed: 0, maxNewTokens: tokens, stopTokens: [] };
    await generate(session, prompt, { ...greedy, maxNewTokens: 2 });
    const start = performance.now();
    await generate(session, prompt, greedy);
    console.log(`  round ${round}, ${weightDtype} weights: ${((performance.now() - start) / tokens).toFixed(1)} ms a token`);
    await session.release();
  }
}

const refusal = nodeWebGpuRefusal();
if (refusal) console.log(`\nonnxruntime's WebGPU EP: not run (${refusal})`);
else {
  const gpu = createNodeRuntime({ executionProvider: 'webgpu' });
  const lastLogits = async (runtime: typeof nodeRuntime, config: (typeof models)[number]['config'], weights: Map<string, Float32Array>, weightDtype: 'float32' | 'float16', ids: number[]) => {
    const session = await Qwen3Session.load(runtime, config, weights, { weightDtype, decoder: 'fused', maxBindingBytes: 2 ** 30 });
    const logits = await session.forward(ids);
    await session.release();
    return logits;
  };
  console.log(`\nmeasured on onnxruntime's WebGPU EP (onnxruntime-node on Dawn, fused decoder, the prompt's last logits), max |Δ| / max |logit| against exact sums:`);
  console.log('| model | f32 weights | f16 weights (float16 sums) | the emulation above | top-1 kept |\n|---|---:|---:|---:|---|');
  const wide = { label: "Qwen3-0.6B's width (hidden 1024, 4 layers, 16/8 heads × 128, ffn 3072), seed 7", config: parseQwen3Config({ ...QWEN3_06B_CONFIG, num_hidden_layers: 4 }, 'config.json'), seed: 7, ids: prompt };
  for (const m of [...models, wide]) {
    const full = tinyModelWeights(m.config, m.seed);
    const exact = m === wide ? await lastLogits(nodeRuntime, m.config, full, 'float32', m.ids) : referenceLogits(m.config, full, m.ids);
    const emulated = m === wide ? '—' : relativeError(referenceLogits(m.config, float16Layout(full), m.ids, null, 'float16'), exact).toExponential(1);
    const f32 = await lastLogits(gpu, m.config, full, 'float32', m.ids);
    const f16 = await lastLogits(gpu, m.config, full, 'float16', m.ids);
    console.log(`| ${m.label} | ${relativeError(f32, exact).toExponential(1)} | ${relativeError(f16, exact).toExponential(1)} | ${emulated} | ${argmax(f16) === argmax(exact) ? 'yes' : 'no'} |`);
  }
}
