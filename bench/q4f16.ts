// What float16 activations add to 4-bit weights, measured on onnxruntime's WebGPU EP (onnxruntime-node
// on Dawn; needs a Vulkan driver with shader-f16, e.g. Mesa 25's lavapipe, which .ci/run installs):
// the prompt's last logits of seeded models, against exact sums of their float32 weights, for
//   ours q4     — our fused decoder on 4-bit weights, float32 activations (weightDtype 'q4');
//   TJS q4      — transformers.js' onnx-community layout from the same weights and codes, float32;
//   TJS q4f16   — the same, float16 activations, scales, norms and KV cache (what a user compares with);
//   ours q4f16  — our fused decoder on the q4f16 layout: the same as TJS q4f16 but for our LoRA-ready inputs;
//   ours f16    — our fused decoder on float16 weights with float16 sums (the panel's f16).
// Exact is the float64 reference for the small models and the CPU EP's float32 logits for the wide
// one (the reference is too slow there). `--layers N` adds a model of Qwen3-0.6B's full width with N layers (28: its shape).
//   npx tsx bench/q4f16.ts [--layers 28]
import * as ort from 'onnxruntime-node';
import { parseArgs } from 'node:util';
import { tinyModelConfig, tinyModelWeights } from '../scripts/make-tiny-model.ts';
import { createNodeRuntime, nodeRuntime, nodeWebGpuRefusal } from '../src/engine/runtime-node.ts';
import type { Runtime } from '../src/engine/runtime.ts';
import { argmax } from '../src/engine/sampling.ts';
import { Qwen3Session } from '../src/engine/session.ts';
import { parseQwen3Config, type Qwen3Config } from '../src/model/config.ts';
import { f16ToF32 } from '../src/model/dtype.ts';
import { TJS_ATTENTION_MASK, TJS_INPUT_IDS, TJS_LOGITS, tjsPastKey, tjsPastValue } from '../src/model/qwen3/export-transformers.ts';
import { buildTransformersFusedDecoder, type Activations } from '../src/model/qwen3/export-transformers-fused.ts';
import type { LayoutDtype } from '../src/model/qwen3/layout.ts';
import { relativeError } from '../src/testing/numerics.ts';
import { QWEN3_06B_CONFIG } from '../src/testing/qwen3-configs.ts';
import { referenceLogits } from '../src/testing/qwen3-reference.ts';

const { values: args } = parseArgs({ options: { layers: { type: 'string' } } });
const refusal = nodeWebGpuRefusal();
if (refusal) {
  console.log(`not run: ${refusal}`);
  process.exit(0);
}
const gpu = createNodeRuntime({ executionProvider: 'webgpu' });

const prompt = [151644, 872, 198, 14, 2152, 26865, 9190, 419, 2711, 3239, 25, 3704];
const wideConfig = (layers: number) => parseQwen3Config({ ...QWEN3_06B_CONFIG, num_hidden_layers: layers }, 'config.json');
interface Model {
  label: string;
  config: Qwen3Config;
  seed: number;
  ids: number[];
  exactOnCpu?: boolean;
}
const models: Model[] = [
  ...[23, 1, 2, 3].map((seed) => ({ label: `tiny (hidden 64, 2 layers), seed ${seed}`, config: tinyModelConfig({ hidden: 64, layers: 2 }), seed, ids: prompt })),
  { label: 'mid (hidden 512, 4 layers, ffn 1536), seed 8', config: tinyModelConfig({ hidden: 512, layers: 4, heads: 8, kvHeads: 4, headDim: 64, intermediate: 1536 }), seed: 8, ids: prompt.slice(0, 6) },
  { label: "Qwen3-0.6B's width, 4 layers, seed 7", config: wideConfig(4), seed: 7, ids: prompt, exactOnCpu: true },
];
if (args.layers) models.push({ label: `Qwen3-0.6B's width, ${args.layers} layers, seed 7`, config: wideConfig(Number(args.layers)), seed: 7, ids: prompt, exactOnCpu: true });

async function ours(runtime: Runtime, m: Model, weights: Map<string, Float32Array>, weightDtype: LayoutDtype): Promise<Float32Array> {
  const session = await Qwen3Session.load(runtime, m.config, weights, { weightDtype, decoder: 'fused', maxBindingBytes: 2 ** 30 });
  try {
    return await session.forward(m.ids);
  } finally {
    await session.release();
  }
}

/** The onnx-community graph on the EP, no cache: the prompt's last row of logits as float32. */
async function theirs(m: Model, weights: Map<string, Float32Array>, io: Activations): Promise<Float32Array> {
  const { numKvHeads: KV, headDim: hd, numLayers, vocabSize: V } = m.config;
  const session = await ort.InferenceSession.create(buildTransformersFusedDecoder(m.config, weights, io, { maxPositions: 64 }), { executionProviders: ['webgpu'] });
  try {
    const empty = () => new ort.Tensor(io, io === 'float16' ? new Uint16Array(0) : new Float32Array(0), [1, KV, 0, hd]);
    const feeds: Record<string, ort.Tensor> = {
      [TJS_INPUT_IDS]: new ort.Tensor('int64', BigInt64Array.from(m.ids, BigInt), [1, m.ids.length]),
      [TJS_ATTENTION_MASK]: new ort.Tensor('int64', BigInt64Array.from(m.ids, () => 1n), [1, m.ids.length]),
    };
    for (let l = 0; l < numLayers; l++) [feeds[tjsPastKey(l)], feeds[tjsPastValue(l)]] = [empty(), empty()];
    const logits = (await session.run(feeds, [TJS_LOGITS]))[TJS_LOGITS]!.data as Float32Array | Uint16Array;
    const last = logits.subarray(logits.length - V);
    return last instanceof Uint16Array ? Float32Array.from(last, f16ToF32) : Float32Array.from(last);
  } finally {
    await session.release();
  }
}

console.log(`onnxruntime's WebGPU EP (onnxruntime-node ${ort.env.versions.node ?? ''} on Dawn), the prompt's last logits, max |Δ| / max |logit| against exact sums; top-1 kept: y/n`);
console.log('| model | ours q4 | TJS q4 | ours q4f16 | TJS q4f16 | ours f16 (float16 sums) | q4f16 vs q4: ours / TJS |\n|---|---:|---:|---:|---:|---:|---:|');
for (const m of models) {
  const weights = tinyModelWeights(m.config, m.seed);
  const exact = m.exactOnCpu ? await ours(nodeRuntime, m, weights, 'float32') : referenceLogits(m.config, weights, m.ids);
  const q4 = await ours(gpu, m, weights, 'q4');
  const tjsQ4 = await theirs(m, weights, 'float32');
  const q4f16 = await ours(gpu, m, weights, 'q4f16');
  const tjsQ4f16 = await theirs(m, weights, 'float16');
  const f16 = await ours(gpu, m, weights, 'float16');
  const cell = (got: Float32Array) => `${relativeError(got, exact).toExponential(1)} ${argmax(got) === argmax(exact) ? 'y' : 'n'}`;
  const apart = (a: Float32Array, b: Float32Array) => relativeError(a, b).toExponential(1);
  console.log(`| ${m.label} | ${cell(q4)} | ${cell(tjsQ4)} | ${cell(q4f16)} | ${cell(tjsQ4f16)} | ${cell(f16)} | ${apart(q4f16, q4)} / ${apart(tjsQ4f16, tjsQ4)} |`);
}
