// Where the startup of a CLI call at a real model's shape goes. In process (--profile): file reads,
// host conversion (Qwen3Session.load's own work: widening bf16/f16, the non-finite check, the
// transposes), uploads, and the first forward (building the graph, ORT's session creation, one
// prefill); then `qmd logits --prompt hi --top 3` end to end, tsx's start included. Each checkout
// in --trees (each with this script) runs in turn, round by round, so that all see the same load;
// medians over --rounds, with the load average each run saw. With --python, PyTorch does the same in
// the same rounds (bench/startup_torch.py: transformers, float32, one forward) and its top tokens are
// checked against ours.
//
//   npx tsx scripts/make-tiny-model.ts /tmp/q06b --hidden 1024 --layers 28 --heads 16 --kv-heads 8 \
//     --head-dim 128 --intermediate 3072 --bf16          # Qwen3-0.6B's shape, seeded random weights
//   npx tsx bench/startup.ts --model /tmp/q06b [--trees .,/tmp/before] [--rounds 3] [--python /tmp/venv/bin/python]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { nodeRuntime } from '../src/engine/runtime-node.ts';
import type { Runtime } from '../src/engine/runtime.ts';
import { Qwen3Session } from '../src/engine/session.ts';
import type { ByteSource } from '../src/model/byte-source.ts';
import { parseQwen3Config } from '../src/model/config.ts';
import { openFileSource } from '../src/model/file-source.ts';
import { SafetensorsFile } from '../src/model/safetensors.ts';

interface Profile {
  readMs: number;
  convertMs: number;
  uploadMs: number;
  firstForwardMs: number;
  load: number;
}

/** bench/startup_torch.py's parts, ms. */
interface TorchParts {
  importMs: number;
  tokenizerMs: number;
  loadMs: number;
  firstForwardMs: number;
}

/** One load of `model` (a single model.safetensors) in this process, by part. */
async function profile(model: string): Promise<Profile> {
  const load = loadavg()[0]!;
  const times = { readMs: 0, uploadMs: 0 };
  const timed = async <T>(key: keyof typeof times, work: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    try {
      return await work();
    } finally {
      times[key] += performance.now() - start;
    }
  };
  const file = await openFileSource(join(model, 'model.safetensors'));
  const source: ByteSource = { name: file.name, size: file.size, read: (offset, length) => timed('readMs', () => file.read(offset, length)) };
  const runtime: Runtime = { ...nodeRuntime, upload: (tensor) => timed('uploadMs', () => nodeRuntime.upload(tensor)) };
  const reader = await SafetensorsFile.open(source);
  const config = parseQwen3Config(JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')));
  const started = performance.now();
  // A checkout from before readStored widens and checks in read (the "before" side of a comparison).
  const read = (name: string) => (reader.readStored ? reader.readStored(name) : reader.read(name));
  const session = await Qwen3Session.load(runtime, config, { read }, { graphs: 'lazy' });
  const loadMs = performance.now() - started;
  await file.close();
  const forwardStart = performance.now();
  await session.forward([6023]);
  const firstForwardMs = performance.now() - forwardStart;
  await session.release();
  return { readMs: times.readMs, convertMs: loadMs - times.readMs - times.uploadMs, uploadMs: times.uploadMs, firstForwardMs, load };
}

/** Runs `command` to its end; its wall time and stdout. */
function run(command: string, args: string[], cwd: string): Promise<{ ms: number; stdout: string }> {
  return new Promise((done, fail) => {
    const start = performance.now();
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? done({ ms: performance.now() - start, stdout }) : fail(new Error(`${command} ${args.join(' ')} in ${cwd}: exit ${code}`))));
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const seconds = (ms: number) => (ms / 1000).toFixed(2);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      trees: { type: 'string', default: '.' },
      rounds: { type: 'string', default: '3' },
      profile: { type: 'boolean' },
      python: { type: 'string' },
    },
  });
  if (!values.model) throw new Error('usage: npx tsx bench/startup.ts --model DIR [--trees .,OTHER] [--rounds 3]');
  const model = resolve(values.model);
  if (values.profile) {
    process.stdout.write(JSON.stringify(await profile(model)) + '\n');
    return;
  }
  const trees = values.trees.split(',').map((tree) => resolve(tree));
  const results = new Map(trees.map((tree) => [tree, [] as (Profile & { cliMs: number; cliLoad: number })[]]));
  const torchRuns: (TorchParts & { wallMs: number; load: number })[] = [];
  let oursTop: number[] = [];
  for (let round = 0; round < Number(values.rounds); round++) {
    if (values.python) {
      const load = loadavg()[0]!;
      const torch = await run(values.python, [join(import.meta.dirname, 'startup_torch.py'), '--model', model, '--prompt', 'hi', '--top', '3'], '.');
      const { parts, top } = JSON.parse(torch.stdout) as { parts: TorchParts; top: [number, number][] };
      torchRuns.push({ ...parts, wallMs: torch.ms, load });
      process.stderr.write(`round ${round + 1} torch: ${JSON.stringify({ ...parts, wallMs: torch.ms, load, top })}\n`);
      const torchTop = top.map(([id]) => id);
      if (oursTop.length && torchTop.join() !== oursTop.join()) throw new Error(`top tokens differ: ours ${oursTop}, torch ${torchTop}`);
      oursTop = oursTop.length ? oursTop : torchTop;
    }
    for (const tree of trees) {
      const tsx = join(tree, 'node_modules/.bin/tsx');
      const parts = JSON.parse((await run(tsx, ['bench/startup.ts', '--profile', '--model', model], tree)).stdout) as Profile;
      const cliLoad = loadavg()[0]!;
      const cli = await run(tsx, ['src/cli/qmd.ts', 'logits', '--model', model, '--prompt', 'hi', '--top', '3'], tree);
      const cliTop = (JSON.parse(cli.stdout) as { top: [number, number][] }).top.map(([id]) => id);
      if (oursTop.length && cliTop.join() !== oursTop.join()) throw new Error(`top tokens differ: ${oursTop} before, ${cliTop} from ${tree}`);
      oursTop = cliTop;
      const result = { ...parts, cliMs: cli.ms, cliLoad };
      results.get(tree)!.push(result);
      process.stderr.write(`round ${round + 1} ${tree}: ${JSON.stringify(result)}\n`);
    }
  }
  for (const [tree, runs] of results) {
    const m = (key: keyof (typeof runs)[number]) => seconds(median(runs.map((r) => r[key])));
    const loads = runs.flatMap((r) => [r.load, r.cliLoad]);
    process.stdout.write(
      `${tree}: qmd logits ${m('cliMs')} s; in process: reads ${m('readMs')} s, host conversion ${m('convertMs')} s, ` +
        `uploads ${m('uploadMs')} s, first forward ${m('firstForwardMs')} s (medians of ${runs.length}; load ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)})\n`,
    );
  }
  if (torchRuns.length) {
    const m = (key: keyof (typeof torchRuns)[number]) => seconds(median(torchRuns.map((r) => r[key])));
    const loads = torchRuns.map((r) => r.load);
    process.stdout.write(
      `torch: the same, end to end ${m('wallMs')} s; in process: import ${m('importMs')} s, tokenizer ${m('tokenizerMs')} s, ` +
        `from_pretrained ${m('loadMs')} s, first forward ${m('firstForwardMs')} s (medians of ${torchRuns.length}; load ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}; same top 3)\n`,
    );
  }
}

await main();
