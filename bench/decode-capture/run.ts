// Submits and time per decoded token on WebGPU for our fused decode step fed three ways (main.ts:
// the session's host inputs, every input a bound GPU buffer, and ORT's graph capture over those),
// with greedy tokens and logits checked against the session's own decode. Headless Debian
// Chromium (SwiftShader where no GPU is lent, so the times are the CPU's; the submits hold).
//   npx tsx bench/decode-capture/run.ts [--steps 24] [--port 4361]
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeTinyModel } from '../../scripts/make-tiny-model.ts';
import { openBench } from '../serve-site.ts';
import type { WayResult } from './main.ts';

const { values } = parseArgs({ args: process.argv.slice(2), options: { steps: { type: 'string', default: '24' }, port: { type: 'string', default: '4361' } } });
const work = resolve('.tmp/bench-decode-capture');
const models = join(work, 'models');
// The tests' tiny model: hidden 64, 2 layers, Qwen3's vocabulary.
await makeTinyModel(join(models, 'tiny'), { seed: 7 });
const site = join(work, 'site');
const { browser, url, close } = await openBench('decode-capture', site, Number(values.port), models);
try {
  const page = await browser.newPage();
  await page.goto(url);
  const load = loadavg()[0]!;
  const results = await page.evaluate(([steps]) => window.runDecodeCapture('/models/tiny', steps), [Number(values.steps)] as const);
  if ('error' in results) throw new Error(results.error);
  console.log(`${browser.version()}, ${cpus()[0]?.model ?? 'unknown cpu'} × ${cpus().length}, load average ${load.toFixed(1)} at the start; ${values.steps} greedy steps after a 6-token prefill`);
  console.log('| way | submits / token | ms / token | greedy tokens = session’s | max |Δ logit| vs session |');
  console.log('|---|---:|---:|---|---:|');
  const [reference] = results as WayResult[];
  for (const r of results as WayResult[]) {
    const same = r.tokens.every((t, i) => t === reference!.tokens[i]);
    console.log(`| ${r.way} | ${r.submitsPerToken.toFixed(2)} | ${r.msPerToken.toFixed(0)} | ${same ? 'yes' : 'NO'} | ${r.maxLogitDiff} |`);
  }
} finally {
  await close();
}
