// Merging an SFT adapter into the weights at Qwen3-0.6B shape (r 16, alpha 32, all seven
// projections): Qwen3Session.mergeAdapter on the device against the host merge of the same pairs
// (merge.ts mergeLora, what `qmd grpo --dry-step` does while loading), float32 and float16
// weights, on onnxruntime-node. Weights are seeded noise made per tensor (the numbers do not
// change the work); medians over --rounds, with the load average each saw.
//
//   npx tsx bench/merge.ts [--rounds 3] [--threads 2]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { nodeRuntime } from '../src/engine/runtime-node.ts';
import { Qwen3Session } from '../src/engine/session.ts';
import { parseQwen3Config } from '../src/model/config.ts';
import { adapterPairsByWeight, mergeLora } from '../src/model/merge.ts';
import { loraScale, newAdapter } from '../src/model/peft.ts';
import { loraTargets, qwen3TensorShapes } from '../src/model/tensors.ts';
import { QWEN3_06B_CONFIG } from '../src/testing/qwen3-configs.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, threads: { type: 'string', default: '2' } } });
const rounds = Number(values.rounds);
const threads = Number(values.threads);
const config = parseQwen3Config(QWEN3_06B_CONFIG);
const shapes = qwen3TensorShapes(config);
const adapter = newAdapter(config, { r: 16, alpha: 32, targets: [...loraTargets], seed: 1, bStd: 0.01 });

/** Noise in [−0.05, 0.05) from a per-tensor xorshift: fast enough for 600 M values. */
function noise(name: string): Float32Array {
  const out = new Float32Array(shapes.get(name)!.reduce((a, d) => a * d, 1));
  let x = 2463534242 ^ name.length;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = ((x >>> 0) / 2 ** 32 - 0.5) * 0.1;
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const pairs = adapterPairsByWeight(adapter, config);
const projections = [...pairs.keys()];
const weights = new Map(projections.map((name) => [name, noise(name)]));

async function deviceMerge(weightDtype: 'float32' | 'float16'): Promise<{ ms: number; load: number }> {
  const session = await Qwen3Session.load(nodeRuntime, config, { read: async (name) => weights.get(name) ?? noise(name) }, { graphs: 'lazy', weightDtype, threads });
  const load = loadavg()[0]!;
  const start = performance.now();
  await session.mergeAdapter(adapter);
  const ms = performance.now() - start;
  await session.release();
  return { ms, load };
}

function hostMerge(): number {
  const scale = loraScale(adapter.config);
  const start = performance.now();
  for (const name of projections) {
    const { pair, shape } = pairs.get(name)!;
    mergeLora(weights.get(name)!, pair, shape, adapter.config.r, scale);
  }
  return performance.now() - start;
}

const results: Record<string, number[]> = { 'device float32': [], 'device float16': [], host: [], load: [] };
for (let round = 0; round < rounds; round++) {
  for (const dtype of ['float32', 'float16'] as const) {
    const { ms, load } = await deviceMerge(dtype);
    results[`device ${dtype}`]!.push(ms);
    results.load!.push(load);
  }
  results.host!.push(hostMerge());
}
console.log(JSON.stringify({ projections: projections.length, r: adapter.config.r, threads, ...Object.fromEntries(Object.entries(results).map(([k, v]) => [k, { median: +median(v).toFixed(k === 'load' ? 2 : 0), all: v.map((x) => +x.toFixed(2)) }])) }));
