// 4-bit weights (layout 'q4'): the bytes of weights a decoded token reads in each layout, at the
// tiny test shape and Qwen3-0.6B's, and the quality cost on seeded tiny models against their float32
// weights (max and RMS logit error over a prompt and 4 decode steps, greedy agreement over 20 steps),
// with onnxruntime-node decode ms/token for f32 and q4 (fused graphs, CPU: not a GPU figure).
//   npx tsx bench/q4.ts
import { tinyModelConfig, tinyModelWeights } from '../scripts/make-tiny-model.ts';
import { parseQwen3Config, type Qwen3Config } from '../src/model/config.ts';
import { layoutBytes, weightLayout, type LayoutDtype } from '../src/model/qwen3/layout.ts';
import { nodeRuntime } from '../src/engine/runtime-node.ts';
import { argmax } from '../src/engine/sampling.ts';
import { Qwen3Session } from '../src/engine/session.ts';
import { QWEN3_06B_CONFIG } from '../src/testing/qwen3-configs.ts';

const MB = 1e6;
const dtypes: LayoutDtype[] = ['float32', 'float16', 'q4', 'q4f16'];
// Every weight is read once per decoded token (the embedding only in its T rows, but it is the tied LM head at 0.6B).
for (const [label, config] of [['tiny (hidden 64, 2 layers, tied)', tinyModelConfig()], ['Qwen3-0.6B', parseQwen3Config(QWEN3_06B_CONFIG)]] as const) {
  const bytes = dtypes.map((d) => layoutBytes(config, weightLayout(config, { weightDtype: d })));
  console.log(`${label}: weight bytes per token ${dtypes.map((d, i) => `${d} ${(bytes[i]! / MB).toFixed(1)} MB`).join(', ')} (q4/f16 ${(bytes[2]! / bytes[1]!).toFixed(3)})`);
}

const prompt = [151644, 872, 198, 9707, 11, 1879, 0, 151645, 198, 151644, 77091, 198];
async function run(session: Qwen3Session, steps: number): Promise<{ logits: Float32Array[]; ids: number[]; msPerToken: number }> {
  await session.reset();
  const logits = [await session.forward(prompt)];
  const ids: number[] = [];
  const start = performance.now();
  for (let i = 0; i < steps; i++) {
    ids.push(argmax(logits.at(-1)!));
    logits.push(await session.forward([ids.at(-1)!]));
  }
  return { logits, ids, msPerToken: (performance.now() - start) / steps };
}

async function compare(label: string, config: Qwen3Config, seed: number): Promise<void> {
  const weights = tinyModelWeights(config, seed);
  const exact = await Qwen3Session.load(nodeRuntime, config, weights, { weightDtype: 'float32' });
  const q4 = await Qwen3Session.load(nodeRuntime, config, weights, { weightDtype: 'q4' });
  const [want, got] = [await run(exact, 20), await run(q4, 20)];
  // Teacher-forced error: q4 fed f32's greedy tokens, so every position compares the same context.
  await q4.reset();
  const forced = [await q4.forward(prompt)];
  for (const id of want.ids.slice(0, 4)) forced.push(await q4.forward([id]));
  let maxAbs = 0;
  let maxLogit = 0;
  let sq = 0;
  let norm = 0;
  forced.forEach((g, i) => {
    const w = want.logits[i]!;
    for (let j = 0; j < w.length; j++) {
      maxAbs = Math.max(maxAbs, Math.abs(g[j]! - w[j]!));
      maxLogit = Math.max(maxLogit, Math.abs(w[j]!));
      sq += (g[j]! - w[j]!) ** 2;
      norm += w[j]! ** 2;
    }
  });
  const top1 = forced.filter((g, i) => argmax(g) === argmax(want.logits[i]!)).length;
  const same = got.ids.filter((id, i) => id === want.ids[i]).length;
  console.log(
    `${label} seed ${seed}: max |Δlogit| ${maxAbs.toFixed(3)} (${((100 * maxAbs) / maxLogit).toFixed(1)} % of max |logit|), RMS ${((100 * Math.sqrt(sq / norm)).toFixed(1))} %, ` +
      `top-1 equal at ${top1}/${forced.length} teacher-forced positions, free-running greedy ${same}/20 equal; ` +
      `decode ${want.msPerToken.toFixed(1)} ms/token f32, ${got.msPerToken.toFixed(1)} q4 (onnxruntime-node)`,
  );
  await exact.release();
  await q4.release();
}

for (const seed of [1, 2, 3]) await compare('tiny (hidden 64, 2 layers)', tinyModelConfig({ untied: true }), seed);
await compare('mid (hidden 512, 4 layers, 8/4 heads × 64)', tinyModelConfig({ hidden: 512, layers: 4, heads: 8, kvHeads: 4, headDim: 64, intermediate: 1536 }), 1);
