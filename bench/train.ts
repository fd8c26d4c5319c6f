// Train-step throughput on onnxruntime-node (CPU): a tiny and a mid-size random Qwen3 with a
// rank-16 LoRA on all seven projections. Reports step time, tokens/s, the step's achieved
// GFLOP/s (FLOPs counted from the graph's MatMuls) against one large MatMul in the same run,
// and graph build / session creation time.   npx tsx bench/train.ts [--steps N]
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { tinyModelConfig, tinyModelWeights, type TinyModelOptions } from '../scripts/make-tiny-model.ts';
import { Graph } from '../src/onnx/index.ts';
import { newAdapter } from '../src/model/peft.ts';
import { buildTrainStep } from '../src/model/qwen3/train-step.ts';
import { qwen3TensorShapes, loraTargets } from '../src/model/tensors.ts';
import { makeBatch } from '../src/engine/batches.ts';
import { syntheticExamples } from './synthetic-rows.ts';
import { f32 } from '../src/engine/runtime.ts';
import { nodeRuntime } from '../src/engine/runtime-node.ts';
import { LoraTrainer } from '../src/engine/trainer.ts';
import { weightLayout } from '../src/model/qwen3/layout.ts';
import type { OptimizerSettings } from '../src/engine/train-config.ts';

const optimizer: OptimizerSettings = { lr: 2e-4, schedule: 'cosine', warmupRatio: 0, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, maxGradNorm: 1 };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** GFLOP/s of one [n, n] × [n, n] MatMul, the best this runtime does on this machine. */
async function matMulPeak(n: number): Promise<number> {
  const g = new Graph('matmul-peak');
  g.output(g.matMul(g.input('a', 'float32', [n, n]), g.input('b', 'float32', [n, n])), 'c');
  const session = await nodeRuntime.createSession(g.toBytes());
  const a = f32([n, n], Float32Array.from({ length: n * n }, (_, i) => (i % 7) / 7));
  const times: number[] = [];
  for (let i = 0; i < 4; i++) {
    const t = performance.now();
    await session.run({ a, b: a }, ['c']);
    times.push(performance.now() - t);
  }
  await session.release();
  return (2 * n ** 3) / (median(times.slice(1)) / 1000) / 1e9;
}


async function benchModel(label: string, options: TinyModelOptions, batch: number, length: number, completion: number, steps: number) {
  const config = tinyModelConfig(options);
  const weights = tinyModelWeights(config, 1);
  const examples = syntheticExamples(batch, length, completion);
  const trainBatch = makeBatch(examples, { maxLength: length, lossOn: 'completion' });
  const shape = { batch, length: trainBatch.length, positions: trainBatch.lossIndex.length, rank: 16, targets: loraTargets, dropout: false };
  let t = performance.now();
  const graph = buildTrainStep(config, shape);
  const buildMs = performance.now() - t;
  const device = new Map();
  for (const [name, dims] of qwen3TensorShapes(config)) device.set(name, await nodeRuntime.upload(f32(dims, weights.get(name)!)));
  const adapter = newAdapter(config, { r: 16, alpha: 32, targets: [...loraTargets], seed: 1 });
  const trainer = await LoraTrainer.create({ runtime: nodeRuntime, model: config, weights: device, layout: weightLayout(config), transposed: false, start: { adapter }, optimizer, dropout: 0, seed: 1 });
  t = performance.now();
  await trainer.step([trainBatch], 2e-4); // first step also creates the session (graph build + ORT optimization)
  const firstMs = performance.now() - t;
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    t = performance.now();
    await trainer.step([trainBatch], 2e-4);
    times.push(performance.now() - t);
  }
  await trainer.release();
  const stepMs = median(times);
  return {
    label,
    config: `hidden ${config.hiddenSize}, ${config.numLayers} layers, ${config.numHeads}/${config.numKvHeads} heads × ${config.headDim}, ffn ${config.intermediateSize}, vocab ${config.vocabSize}`,
    batch: `${batch} × ${trainBatch.length} tokens, ${trainBatch.tokens} scored (${trainBatch.lossIndex.length} bucketed)`,
    graphMB: graph.bytes.byteLength / 1e6,
    buildMs,
    firstMs,
    stepMs,
    tokensPerSecond: (batch * trainBatch.length) / (stepMs / 1000),
    gflop: graph.matMulFlops / 1e9,
    gflops: graph.matMulFlops / (stepMs / 1000) / 1e9,
  };
}

const { values } = parseArgs({ args: process.argv.slice(2), options: { steps: { type: 'string', default: '5' } } });
const steps = Number(values.steps);
const peak = await matMulPeak(2048);
const results = [
  await benchModel('tiny', {}, 4, 128, 64, steps),
  await benchModel('mid', { hidden: 512, layers: 4, heads: 8, kvHeads: 4, headDim: 64, intermediate: 1536 }, 4, 128, 64, steps),
];
console.log(`machine: ${cpus()[0]?.model ?? 'unknown cpu'}, ${cpus().length} logical cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, onnxruntime-node (cpu), ${steps} timed steps (median)`);
console.log(`one 2048² MatMul: ${peak.toFixed(1)} GFLOP/s`);
console.log('| model | config | batch | graph build | first step (session) | step | tokens/s | MatMul GFLOP/step | achieved GFLOP/s | % of MatMul peak |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of results) {
  console.log(
    `| ${r.label} | ${r.config} | ${r.batch} | ${r.buildMs.toFixed(0)} ms (${r.graphMB.toFixed(1)} MB) | ${r.firstMs.toFixed(0)} ms | ${r.stepMs.toFixed(0)} ms | ${r.tokensPerSecond.toFixed(0)} | ${r.gflop.toFixed(1)} | ${r.gflops.toFixed(1)} | ${((100 * r.gflops) / peak).toFixed(0)} % |`,
  );
}
