// A LoRA train step on WebGPU (headless Chromium; SwiftShader where no GPU is lent): the peak of
// the GPU buffers alive during one step (meter.ts: every buffer ORT makes on its device, its pool
// included), beside what the page says before a run starts for the same shape
// (train-memory.ts), and the step time. One case per page load. The first step's peak is the
// step's: later steps take their buffers from ORT's pool and peak the same (measured: tiny 1 × 64,
// 124.1 MiB both); its time includes building the sessions and compiling the shaders. Memory
// figures do not depend on the machine's load; times do.
//   npx tsx bench/train-webgpu/run.ts [--cases tiny:1x64,tiny:1x256,mid:1x64,mid:2x256:r4,tiny:2x256:recompute] [--steps 1]
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeTinyModel, type TinyModelOptions } from '../../scripts/make-tiny-model.ts';
import { makeBatch } from '../../src/engine/batches.ts';
import { parseTrainConfig, type TrainConfig } from '../../src/engine/train-config.ts';
import { syntheticExamples } from '../synthetic-rows.ts';
import { openBench } from '../serve-site.ts';
import type { CaseRequest, CaseResult } from './main.ts';

const PORT = 4349;
const work = resolve('.tmp/bench-train-webgpu');
const models = join(work, 'models');
const site = process.env.BENCH_DIST ?? '/tmp/dist-h19';

/** Both with Qwen3's real vocabulary (151,936): the loss head is most of a small model's step. */
const sizes: Record<string, { label: string; options: TinyModelOptions }> = {
  tiny: { label: 'hidden 64, 2 layers, 4/2 heads × 16, ffn 128', options: { seed: 7 } },
  mid: { label: 'hidden 256, 4 layers, 4/2 heads × 64, ffn 768', options: { seed: 8, hidden: 256, layers: 4, heads: 4, kvHeads: 2, headDim: 64, intermediate: 768 } },
};

interface Case {
  model: string;
  rows: number;
  length: number;
  rank: number;
  recompute: boolean;
}

const name = (c: Case) => `${c.model}:${c.rows}x${c.length}:r${c.rank}${c.recompute ? ':recompute' : ''}`;

/**
 * "tiny:2x256", "mid:1x256:r4", "tiny:2x256:recompute": model, rows × length, LoRA rank (default
 * 16), per-layer recompute. The default set took ~11 min on SwiftShader on 2 cores under load
 * 10–13 (one step at tiny 2 × 256 alone took 8 min), so add others one or two at a time.
 */
const DEFAULT_CASES = 'tiny:1x64,tiny:1x256,mid:1x64';

function parseCase(text: string): Case {
  const [model = '', shape = '', ...rest] = text.split(':');
  const dims = /^(\d+)x(\d+)$/.exec(shape);
  if (!sizes[model] || !dims) throw new Error(`--cases: "${text}" is not MODEL:ROWSxLENGTH[:rN][:recompute] with MODEL one of ${Object.keys(sizes).join(', ')}`);
  const c: Case = { model, rows: Number(dims[1]), length: Number(dims[2]), rank: 16, recompute: false };
  for (const option of rest) {
    if (option === 'recompute') c.recompute = true;
    else if (/^r\d+$/.test(option)) c.rank = Number(option.slice(1));
    else throw new Error(`--cases: "${text}": unknown option ${option} (rN or recompute)`);
  }
  return c;
}

/** configs/sft.yaml (the v4 run: all seven projections, dropout 0, whole-sequence loss) at this case's shape, one micro-batch a step. */
function trainConfig(c: Case): TrainConfig {
  const base = parseTrainConfig(readFileSync(resolve('configs/sft.yaml'), 'utf8'), 'configs/sft.yaml');
  return {
    ...base,
    lora: { ...base.lora, r: c.rank, alpha: 2 * c.rank },
    training: { ...base.training, batchSize: c.rows, gradAccum: 1, maxLength: c.length, microBatchTokens: undefined, recompute: c.recompute },
  };
}


const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

function report(c: Case, r: CaseResult): string {
  const e = r.estimate;
  const step = r.steps.at(-1)!;
  const transient = step.peak - step.start;
  return [
    name(c),
    `${mib(e.weights)} + ${mib(e.lora)} + ${mib(e.activations)} = **${mib(e.total)}**`,
    `${mib(step.start)}`,
    `**${mib(step.peak)}**`,
    (step.peak / e.total).toFixed(2),
    `${mib(transient)} / ${mib(e.activations)} (${(transient / e.activations).toFixed(2)})`,
    r.steps.map((s) => mib(s.peak)).join(' → '),
    r.steps.map((s) => (s.ms / 1000).toFixed(1)).join(' → '),
  ].join(' | ');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { cases: { type: 'string', default: DEFAULT_CASES }, steps: { type: 'string', default: '1' } } });
  const steps = Number(values.steps);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps needs an integer ≥ 1, got ${values.steps}`);
  const cases = values.cases.split(',').map(parseCase);
  const picked = [...new Set(cases.map((c) => c.model))];
  for (const m of picked) await makeTinyModel(join(models, m), sizes[m]!.options);
  const { browser, url, close } = await openBench('train-webgpu', site, PORT, models);
  const version = browser.version();
  const loads = [loadavg()[0]!];
  const started = performance.now();
  const rows: string[] = [];
  let first: CaseResult | null = null;
  try {
    for (const c of cases) {
      const page = await browser.newPage();
      page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
      await page.goto(url);
      await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'ready', undefined, { timeout: 60_000 });
      const config = trainConfig(c);
      const batch = makeBatch(syntheticExamples(c.rows, c.length, c.length), { maxLength: c.length, lossOn: 'all' });
      const request: CaseRequest = { model: `/models/${c.model}`, config, batch, steps };
      const r: CaseResult = await page.evaluate((q) => window.runTrainStepBench(q), request);
      first ??= r;
      loads.push(loadavg()[0]!);
      process.stderr.write(`${name(c)}: ${JSON.stringify({ ...r, estimate: { ...r.estimate }, steps: r.steps.map((s) => ({ ...s, atPeak: s.atPeak.slice(0, 12) })) })}\n`);
      rows.push(`| ${report(c, r)} |`);
      await page.close();
    }
  } finally {
    await close();
  }
  console.log(`machine: ${cpus()[0]?.model ?? 'unknown cpu'}, ${cpus().length} logical cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; Chromium ${version}`);
  console.log(`adapter: ${first?.adapter}; maxBufferSize ${first?.limits.maxBufferSize}, maxStorageBufferBindingSize ${first?.limits.maxStorageBufferBindingSize}`);
  console.log(`load average (1 min) at the start and after each case: ${loads.map((l) => l.toFixed(1)).join(', ')}; whole run ${((performance.now() - started) / 1000).toFixed(0)} s`);
  for (const m of picked) console.log(`${m}: ${sizes[m]!.label}, vocabulary 151,936, fp32 weights`);
  console.log('| case | estimate MiB (weights + LoRA state + activations = total) | live at step start MiB | measured peak MiB | peak / estimate | step transient / estimated activations MiB | peak per step MiB | step s |');
  console.log('|---|---|---:|---:|---:|---|---|---|');
  for (const row of rows) console.log(row);
}

await main();
