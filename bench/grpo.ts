// Seconds of a GRPO step (src/engine/grpo-job.ts, the run qmd grpo and the page make) at a real
// model's shape on onnxruntime-node, split into generation (sampling G completions per prompt with
// the adapter being trained, and scoring them with QMD's profiles), the reference pass (the
// completions' log-probabilities with the adapter off) and the update (the train step's micro-
// batches and AdamW); graph builds are counted apart (the first step makes the trainer's; the
// decoder's and the sequence scorer's are made before the clock starts).
//
//   npx tsx scripts/make-tiny-model.ts /tmp/q06b --hidden 1024 --layers 28 --heads 16 --kv-heads 8 \
//     --head-dim 128 --intermediate 3072 --bf16          # Qwen3-0.6B's shape, seeded random weights
//   npx tsx bench/grpo.ts --model /tmp/q06b [--steps 1] [--generations 4] [--prompts 2] [--tokens 64]
//
// configs/grpo.yaml otherwise (LoRA r 4 on q, v; batch 2 per micro-batch): a step samples prompts × G
// completions. A random model never writes <|im_end|> early, so every completion runs to --tokens.
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { readGrpoConfig } from '../src/engine/grpo-config.ts';
import { runGrpoJob } from '../src/engine/grpo-job.ts';
import { loadModelTokenizer, loadSession } from '../src/engine/model-dir.ts';
import { nodeRuntime } from '../src/engine/runtime-node.ts';
import { sequenceLogps } from '../src/engine/sequence-logps.ts';
import { newAdapter } from '../src/model/peft.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    steps: { type: 'string', default: '1' },
    generations: { type: 'string', default: '4' },
    prompts: { type: 'string', default: '2' },
    tokens: { type: 'string', default: '64' },
  },
});
if (!values.model) throw new Error('usage: npx tsx bench/grpo.ts --model DIR [--steps 1] [--generations 4] [--prompts 2] [--tokens 64]');
const [steps, generations, prompts, tokens] = [values.steps, values.generations, values.prompts, values.tokens].map(Number) as [number, number, number, number];
const preset = readGrpoConfig(readFileSync(new URL('../configs/grpo.yaml', import.meta.url), 'utf8'), 'configs/grpo.yaml');
const { train, grpo } = preset.config;
const completions = prompts * generations;
const batch = Math.min(train.training.batchSize, completions);
const config = {
  train: { ...train, training: { ...train.training, batchSize: batch, gradAccum: completions / batch } },
  grpo: { ...grpo, numGenerations: generations, maxCompletionLength: tokens },
};
const queries = ['how to configure nginx reverse proxy', 'git rebase onto main', 'sqlite wal mode', 'rust borrow checker lifetimes'].slice(0, prompts).map((query) => ({ query }));

const load0 = loadavg()[0]!;
let t = performance.now();
const session = await loadSession(values.model, nodeRuntime, { graphs: 'lazy' });
const tokenizer = await loadModelTokenizer(values.model);
const loadSeconds = (performance.now() - t) / 1000;
// The decoder's prefill and decode graphs and the sequence scorer, with an adapter (sampling) and without (the reference pass).
t = performance.now();
const { lora } = config.train;
await session.setAdapter(newAdapter(session.config, { r: lora.r, alpha: lora.alpha, targets: lora.targets, seed: 1 }));
for (const adapter of [true, false]) {
  if (!adapter) await session.setAdapter(null);
  await session.forward([1, 2]);
  await session.forward([3]);
  await session.reset();
  await sequenceLogps(session, [1, 2, 3], 1);
}
const decoderGraphSeconds = (performance.now() - t) / 1000;

// The update phase starts with the reference pass; the first graph build or micro-batch ends it.
const marks: { reference: number; graphs: number }[] = [];
let updateStarted = 0;
let referenceOpen = false;
await runGrpoJob(nodeRuntime, { config: session.config, tokenizer, session }, { prompts: queries, config, guard: { maxHardFailRate: 1, windowGroups: 1, maxKl: 1e9 }, maxSteps: steps }, {
  onPhase: (phase) => {
    if (phase !== 'update') return;
    updateStarted = performance.now();
    referenceOpen = true;
    marks.push({ reference: 0, graphs: 0 });
  },
  onProgress: (p) => {
    const mark = marks.at(-1);
    if (!mark || (p.kind !== 'graph' && p.kind !== 'micro-batch')) return;
    if (referenceOpen) {
      mark.reference = (performance.now() - updateStarted) / 1000;
      referenceOpen = false;
    }
    if (p.kind === 'graph' && p.stage === 'ready') mark.graphs += (p.buildSeconds ?? 0) + (p.sessionSeconds ?? 0);
  },
  onStep: (s) => {
    const { reference, graphs } = marks[s.step - 1]!;
    const update = s.updateSeconds - reference - graphs;
    console.log(JSON.stringify({ step: s.step, completions, completion_tokens: s.completionTokens, generation_s: +s.generationSeconds.toFixed(2), reference_s: +reference.toFixed(2), graph_builds_s: +graphs.toFixed(2), update_s: +update.toFixed(2), step_s: +(s.generationSeconds + s.updateSeconds).toFixed(2) }));
  },
});
await session.release();
console.log(JSON.stringify({ load_s: +loadSeconds.toFixed(1), decoder_graphs_s: +decoderGraphSeconds.toFixed(1), cpus: cpus().length, cpu: cpus()[0]?.model, load_average_before: +load0.toFixed(2), load_average_after: +loadavg()[0]!.toFixed(2) }));
