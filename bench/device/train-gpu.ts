// Issue 9's memory target on a real GPU that has no browser (the lent device machines have none):
// a LoRA step of configs/sft.yaml at Qwen3-0.6B's (or 1.7B's) shape with float16 weights on
// onnxruntime's WebGPU EP, the kernels onnxruntime-web runs, through onnxruntime-node on Dawn
// (Vulkan). Seeded random weights (scripts/make-tiny-model.ts), every token scored, per-layer
// recompute. Prints what the page would estimate beside the GPU memory nvidia-smi reports in
// use (the whole device, less what it held before the load; sampled every 100 ms) and the step
// times. Every run copies its inputs from host tensors here (onnxruntime-node keeps no GPU
// tensors), so the weights' GPU copy is made per run: the memory is what the browser keeps
// resident, and the times include one host-to-GPU copy of the weights a micro-batch.
//   npx tsx bench/device/train-gpu.ts [--model 0.6b|1.7b] [--shape 4x512] [--layers N] [--steps 2]
// On a device machine: bench/device/kit.sh packs this with Node.js and onnxruntime-node.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { tinyModelWeights } from '../../scripts/make-tiny-model.ts';
import { makeBatch } from '../../src/engine/batches.ts';
import { createNodeRuntime, nodeWebGpuRefusal } from '../../src/engine/runtime-node.ts';
import { Qwen3Session } from '../../src/engine/session.ts';
import { parseTrainConfig } from '../../src/engine/train-config.ts';
import { trainMemoryEstimate } from '../../src/engine/train-memory.ts';
import { LoraTrainer, sessionWeights } from '../../src/engine/trainer.ts';
import { parseQwen3Config } from '../../src/model/config.ts';
import { newAdapter } from '../../src/model/peft.ts';
import { QWEN3_06B_CONFIG } from '../../src/testing/qwen3-configs.ts';
import { syntheticExamples } from '../synthetic-rows.ts';

/** Qwen3-0.6B's config.json, and 1.7B's, which differs in its width (hidden 2048, ffn 6144). */
const shapes = { '0.6b': QWEN3_06B_CONFIG, '1.7b': { ...QWEN3_06B_CONFIG, hidden_size: 2048, intermediate_size: 6144 } };

const { values } = parseArgs({ options: { model: { type: 'string', default: '0.6b' }, shape: { type: 'string', default: '4x512' }, layers: { type: 'string' }, steps: { type: 'string', default: '2' } } });
const dims = shapes[values.model as keyof typeof shapes];
const [rows, length] = values.shape.split('x').map(Number) as [number, number];
if (!dims || !(rows > 0 && length > 0)) throw new Error(`--model is one of ${Object.keys(shapes).join(', ')}, --shape ROWSxLENGTH (got ${values.model}, ${values.shape})`);

const GB = 1e9;
/** Whole-device GPU memory in use, bytes (nvidia-smi), or null without it. */
const gpuUsed = () =>
  new Promise<number | null>((done) =>
    execFile('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits'], (error, out) => done(error ? null : Number(out.split('\n')[0]) * 2 ** 20)),
  );

const refusal = nodeWebGpuRefusal();
console.log(`node ${process.version} (${process.execPath}); onnxruntime's WebGPU EP: ${refusal ?? 'float16 MatMul exact'}`);
if (refusal) process.exit(1);
const idle = await gpuUsed();
console.log(`GPU memory in use before the load: ${idle === null ? 'no nvidia-smi' : `${(idle / GB).toFixed(2)} GB`}`);

const config = parseQwen3Config({ ...dims, num_hidden_layers: values.layers ? Number(values.layers) : dims.num_hidden_layers }, `Qwen3-${values.model} config`);
const runtime = createNodeRuntime({ executionProvider: 'webgpu' });
let started = performance.now();
const session = await Qwen3Session.load(runtime, config, tinyModelWeights(config, 7), { weightDtype: 'float16', maxBindingBytes: 2 ** 30, graphs: 'lazy' });
console.log(`${values.model} shape, ${config.numLayers} layers, float16 weights in ${session.layout.chunks.length} vocabulary chunk(s): made and loaded in ${((performance.now() - started) / 1000).toFixed(1)} s`);

const sft = parseTrainConfig(readFileSync(new URL('../../configs/sft.yaml', import.meta.url), 'utf8'), 'configs/sft.yaml');
const train = { ...sft, training: { ...sft.training, batchSize: rows, gradAccum: 1, maxLength: length, microBatchTokens: undefined, recompute: true } };
const estimate = trainMemoryEstimate(config, session.layout, train, session.memory().weights);
console.log(`the page's estimate for ${rows} × ${length}, recompute: weights ${(estimate.weights / GB).toFixed(2)} + LoRA state ${(estimate.lora / GB).toFixed(2)} + activations ${(estimate.activations / GB).toFixed(2)} = ${(estimate.total / GB).toFixed(2)} GB`);

const trainer = await LoraTrainer.create({
  runtime,
  model: config,
  ...sessionWeights(session),
  start: { adapter: newAdapter(config, { r: sft.lora.r, alpha: sft.lora.alpha, targets: sft.lora.targets, seed: 3 }) },
  optimizer: sft.optimizer,
  dropout: 0,
  seed: 5,
  recomputeLayers: true,
});
const batch = makeBatch(syntheticExamples(rows, length, length), { maxLength: length, lossOn: 'all' });
let peak = 0;
const sampler = setInterval(() => void gpuUsed().then((used) => (peak = Math.max(peak, used ?? 0))), 100);
for (let step = 0; step < Number(values.steps); step++) {
  started = performance.now();
  const { loss } = await trainer.step([batch], 1e-4);
  const used = await gpuUsed();
  console.log(`step ${step + 1}: ${((performance.now() - started) / 1000).toFixed(2)} s (${((rows * length) / ((performance.now() - started) / 1000)).toFixed(0)} tokens/s), loss ${loss.toFixed(4)}, GPU memory in use after it ${used === null ? '?' : `${((used - idle!) / GB).toFixed(2)} GB`}`);
}
clearInterval(sampler);
console.log(idle === null ? 'no GPU memory figure: nvidia-smi is missing' : `peak GPU memory over the steps, less the idle device's: ${((peak - idle) / GB).toFixed(2)} GB (estimate ${(estimate.total / GB).toFixed(2)} GB; target: 0.6B at 4 × 512 within 4 GB, 1.7B within 8 GB)`);
await trainer.release();
await session.release();
