// Qwen3's LM head on a decoded row, six ways and two of q4, on WebGPU in headless Debian Chromium (SwiftShader
// where no GPU is lent: there the times are the CPU's, and the ratios say what the tests' tiny
// model waits on). Every way must pick the same argmax (the q4 ways theirs).
//   npx tsx bench/lm-head/run.ts [--hidden 64] [--runs 5] [--port 4371]
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openBench } from '../serve-site.ts';

const { values } = parseArgs({ args: process.argv.slice(2), options: { hidden: { type: 'string', default: '64' }, runs: { type: 'string', default: '5' }, port: { type: 'string', default: '4371' } } });
const site = resolve('.tmp/bench-lm-head');
const { browser, url, close } = await openBench('lm-head', site, Number(values.port), site);
try {
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'ready');
  const load = loadavg()[0]!;
  const timings = await page.evaluate(([hidden, runs]) => window.runLmHead(hidden, runs), [Number(values.hidden), Number(values.runs)] as const);
  console.log(`${browser.version()}, ${cpus()[0]?.model ?? 'unknown cpu'} × ${cpus().length}, load average ${load.toFixed(1)} at the start; x [M, ${values.hidden}] · W [${values.hidden}, 151936] → ArgMax, mean of ${values.runs} runs`);
  console.log('| way | M | ms | vs MatMul | argmax of row 0 |');
  console.log('|---|---:|---:|---:|---:|');
  for (const t of timings) {
    const base = timings.find((b) => b.way === 'MatMul' && b.rows === t.rows)!;
    console.log(`| ${t.way} | ${t.rows} | ${t.ms.toFixed(1)} | ${(base.ms / t.ms).toFixed(2)}× | ${t.argmax} |`);
  }
  for (const q4 of [false, true]) {
    const picks = new Set(timings.filter((t) => t.rows === 1 && t.way.startsWith('q4') === q4).map((t) => t.argmax));
    if (picks.size !== 1) throw new Error(`the ${q4 ? 'q4' : 'float32'} ways picked different tokens: ${[...picks].join(', ')}`);
  }
} finally {
  await close();
}
