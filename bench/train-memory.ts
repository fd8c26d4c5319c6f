// Peak memory (RSS) and time of LoRA SFT steps and of generation at a real model's shape, ours on
// onnxruntime-node against PyTorch + PEFT on the same CPU. Each measurement runs in a process of
// its own (a peak RSS is per process) under a watchdog that kills it past --cap-gb, and the
// engines take turns run by run so that both see the same load; medians over --rounds.
//
//   npx tsx scripts/make-tiny-model.ts /tmp/q06b --hidden 1024 --layers 28 --heads 16 --kv-heads 8 \
//     --head-dim 128 --intermediate 3072 --bf16          # Qwen3-0.6B's shape, seeded random weights
//   python3 -m venv /tmp/venv-bench && /tmp/venv-bench/bin/pip install torch transformers peft
//   npx tsx bench/train-memory.ts --model /tmp/q06b [--python /tmp/venv-bench/bin/python]
//     [--shapes 1x256,4x512] [--steps 2] [--rounds 1] [--cap-gb 14] [--engines ours,before,torch]
//     [--no-generate] [--recompute]
//
// Engines: "ours" as the CLI loads now (streamed, no host copy, ORT's CPU arena off); "before"
// as it loaded until issue 9 (loadCheckpoint's float32 map kept, arena on, both decoder graphs
// built); "torch": bench/train_memory_torch.py (fp32, PEFT LoRA, AdamW). Steps: LoRA r 16,
// alpha 32, all seven projections, dropout 0, loss on every token (configs/sft.yaml, the v4 run),
// synthetic rows; with --recompute ours recomputes each layer in the backward
// (`training.recompute: true`) and torch runs gradient checkpointing (TRL's SFTConfig default,
// which the v4 run used), without it neither does.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { makeBatch } from '../src/engine/batches.ts';
import { loadCheckpoint, loadSession } from '../src/engine/model-dir.ts';
import { createNodeRuntime } from '../src/engine/runtime-node.ts';
import { argmax } from '../src/engine/sampling.ts';
import { Qwen3Session } from '../src/engine/session.ts';
import { sftTrainer } from '../src/engine/sft.ts';
import { parseTrainConfig } from '../src/engine/train-config.ts';
import { sessionWeights } from '../src/engine/trainer.ts';
import { syntheticExamples } from './synthetic-rows.ts';

const here = dirname(fileURLToPath(import.meta.url));
const ENGINES = ['ours', 'before', 'torch'] as const;
type Engine = (typeof ENGINES)[number];

/** What one child process reports (one JSON line on stdout). */
interface Measurement {
  loadMs: number;
  /** Per step, the first included (it builds the graphs / warms the allocator). */
  stepMs: number[];
  /** RSS after the load and after each step, bytes. */
  rss: number[];
  peakRss: number;
  /** Peak RSS within each step (VmHWM, reset before it), bytes: a later step's is the steady state, the first step's includes graph building. */
  stepPeaks?: number[];
  /** Bytes of float32 weights the host still held at the end ("before": loadCheckpoint's map). */
  hostCopyBytes: number;
  prefillMs?: number;
  decodeMsPerToken?: number;
}

/** The prompt generation starts from: 20 ids, the same for both engines. */
export const GENERATE_IDS = Array.from({ length: 20 }, (_, t) => 1000 + ((t * 7919) % 90000));
export const GENERATE_TOKENS = 32;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const gb = (bytes: number) => (bytes / 1e9).toFixed(2);
const s = (ms: number) => (ms / 1000).toFixed(2);

/** A child's measurement, or why there is none. */
type Outcome = Measurement | { overCap: number } | { failed: string };
const problem = (m: Outcome): string | null => ('overCap' in m ? `killed at ${gb(m.overCap)} GB (cap)` : 'failed' in m ? m.failed : null);

const rss = () => process.memoryUsage().rss;
const peakRss = () => process.resourceUsage().maxRSS * 1024;
/** The process's peak RSS since the last resetPeak (Linux VmHWM). */
const highWater = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;
// Writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0).
const resetPeak = () => writeFileSync('/proc/self/clear_refs', '5');

/** A child run of ours or before: one measurement, printed. */
async function child(engine: 'ours' | 'before', dir: string, shape: string, steps: number, recompute: boolean): Promise<Measurement> {
  const runtime = createNodeRuntime({ cpuMemArena: engine === 'before' });
  let t = performance.now();
  // "before" keeps the map referenced to the end, as the CLI did while the session ran.
  const held = engine === 'before' ? await loadCheckpoint(dir) : null;
  const session = held ? await Qwen3Session.load(runtime, held.config, held.weights) : await loadSession(dir, runtime, { graphs: 'lazy' });
  const loadMs = performance.now() - t;
  const rssAfter = [rss()];
  const stepMs: number[] = [];
  const out: Measurement = { loadMs, stepMs, rss: rssAfter, peakRss: 0, hostCopyBytes: 0 };
  if (shape === 'generate') {
    t = performance.now();
    let logits = await session.forward(GENERATE_IDS);
    out.prefillMs = performance.now() - t;
    t = performance.now();
    for (let i = 1; i < GENERATE_TOKENS; i++) logits = await session.forward([argmax(logits)]);
    out.decodeMsPerToken = (performance.now() - t) / (GENERATE_TOKENS - 1);
    rssAfter.push(rss());
    out.peakRss = peakRss();
  } else {
    const [batch, length] = shape.split('x').map(Number) as [number, number];
    const preset = parseTrainConfig(readFileSync(join(here, '../configs/sft.yaml'), 'utf8'), 'configs/sft.yaml');
    const config = { ...preset, training: { ...preset.training, recompute } };
    const trainer = await sftTrainer(runtime, session.config, sessionWeights(session), config);
    const trainBatch = makeBatch(syntheticExamples(batch, length, length), { maxLength: length, lossOn: 'all' });
    out.stepPeaks = [];
    // resetPeak resets getrusage's maxRSS too: the load's peak is read before the first.
    const loadPeak = highWater();
    for (let i = 0; i < steps + 1; i++) {
      resetPeak();
      t = performance.now();
      await trainer.step([trainBatch], config.optimizer.lr);
      stepMs.push(performance.now() - t);
      out.stepPeaks.push(highWater());
      rssAfter.push(rss());
    }
    await trainer.release();
    out.peakRss = Math.max(peakRss(), loadPeak, ...out.stepPeaks);
  }
  // Read here, at the end, so that the map stays alive through the run as it did in the CLI.
  out.hostCopyBytes = held ? [...held.weights.values()].reduce((n, w) => n + w.byteLength, 0) : 0;
  await session.release();
  return out;
}

/** Runs one measurement in a child process, killed past `capBytes` of RSS (read from /proc every 200 ms). */
function measure(command: string, args: string[], capBytes: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let over = 0;
    proc.stdout.on('data', (d: Buffer) => (stdout += d));
    proc.stderr.on('data', (d: Buffer) => (stderr += d));
    const watch = setInterval(() => {
      let status = '';
      try {
        status = readFileSync(`/proc/${proc.pid}/status`, 'utf8');
      } catch {
        return;
      }
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      if (kb * 1024 > capBytes && !over) {
        over = kb * 1024;
        proc.kill('SIGKILL');
      }
    }, 200);
    proc.on('close', (code) => {
      clearInterval(watch);
      if (over) return resolve({ overCap: over });
      const line = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{')) return resolve({ failed: `exit ${code}: ${stderr.split('\n').find((l) => /Error/.test(l)) ?? stderr.trim().split('\n').at(-1)}` });
      resolve(JSON.parse(line) as Measurement);
    });
  });
}


async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      model: { type: 'string' },
      python: { type: 'string', default: '/tmp/venv-bench/bin/python' },
      shapes: { type: 'string', default: '1x256,4x512' },
      steps: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '1' },
      'cap-gb': { type: 'string', default: '14' },
      engines: { type: 'string', default: ENGINES.join(',') },
      'no-generate': { type: 'boolean', default: false },
      recompute: { type: 'boolean', default: false },
      child: { type: 'string' },
      shape: { type: 'string' },
    },
  });
  if (!values.model) throw new Error('usage: bench/train-memory.ts --model DIR [--python PY] [--shapes 1x256,4x512] [--steps 2] [--rounds 1] [--cap-gb 14] [--engines ours,before,torch] [--no-generate] [--recompute]');
  const steps = Number(values.steps);
  if (values.child) {
    console.log(JSON.stringify(await child(values.child as 'ours' | 'before', values.model, values.shape!, steps, values.recompute)));
    return;
  }
  const engines = values.engines.split(',') as Engine[];
  const bad = engines.find((e) => !ENGINES.includes(e));
  if (bad) throw new Error(`--engines: unknown engine ${bad} (known: ${ENGINES.join(', ')})`);
  const shapes = [...values.shapes.split(','), ...(values['no-generate'] ? [] : ['generate'])];
  const cap = Number(values['cap-gb']) * 1e9;
  const results = new Map<string, Outcome[]>();
  const loads: number[] = [];
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const shape of shapes) {
      for (const engine of engines) {
        const args =
          engine === 'torch'
            ? [values.python, [join(here, 'train_memory_torch.py'), '--model', values.model, '--shape', shape, '--steps', String(steps), '--generate-ids', GENERATE_IDS.join(','), '--generate-tokens', String(GENERATE_TOKENS), ...(values.recompute ? ['--checkpointing'] : [])]] as const
            : // node itself with tsx's loader, not the tsx binary: that one runs the script in a child, whose RSS the watchdog would not see.
              [process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', engine, '--model', values.model, '--shape', shape, '--steps', String(steps), ...(values.recompute ? ['--recompute'] : [])]] as const;
        loads.push(loadavg()[0]!);
        const m = await measure(args[0], [...args[1]], cap);
        process.stderr.write(`round ${round + 1} ${shape} ${engine}: ${JSON.stringify(m)}\n`);
        const key = `${shape} ${engine}`;
        results.set(key, [...(results.get(key) ?? []), m]);
      }
    }
  }
  console.log(`machine: ${cpus()[0]?.model ?? 'unknown cpu'}, ${cpus().length} logical cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; load average at each start ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}; ${values.rounds} round(s), medians${values.recompute ? '; ours with recompute, torch with gradient checkpointing' : ''}`);
  console.log('| shape | engine | load s | first step s (generate: first token) | step s (median of the rest) | RSS after load GB | RSS after each step GB | peak RSS GB | peak RSS in a later step GB |');
  console.log('|---|---|---:|---:|---:|---:|---|---:|---:|');
  for (const [key, runs] of results) {
    const [shape, engine] = key.split(' ');
    const ok = runs.filter((m): m is Measurement => problem(m) === null);
    const fails = runs.map(problem).filter((p) => p !== null);
    if (ok.length === 0) {
      console.log(`| ${shape} | ${engine} | ${fails.join('; ')} | | | | | | |`);
      continue;
    }
    const last = ok.at(-1)!;
    const step = shape === 'generate' ? `prefill ${median(ok.map((m) => m.prefillMs!)).toFixed(0)} ms, decode ${median(ok.map((m) => m.decodeMsPerToken!)).toFixed(0)} ms/token` : s(median(ok.flatMap((m) => m.stepMs.slice(1))));
    // For generation: load + prefill, the time to the first token (ours builds its graphs in the prefill).
    const first = s(median(ok.map((m) => (shape === 'generate' ? m.loadMs + m.prefillMs! : m.stepMs[0]!))));
    const rssSteps = last.rss.slice(1, shape === 'generate' ? 2 : steps + 2).map(gb).join(' → ');
    console.log(`| ${shape} | ${engine} | ${s(median(ok.map((m) => m.loadMs)))} | ${first} | ${step} | ${gb(median(ok.map((m) => m.rss[0]!)))} | ${rssSteps} | ${gb(median(ok.map((m) => m.peakRss)))}${fails.length ? ` (${fails.join('; ')})` : ''} | ${ok[0]!.stepPeaks ? gb(median(ok.flatMap((m) => m.stepPeaks!.slice(1)))) : '—'} |`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
