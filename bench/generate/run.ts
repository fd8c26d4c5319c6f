// Generation benchmark: our loop (Qwen3Session + generate, on its fused graphs and on the plain
// ones) vs transformers.js `generate` on the same ONNX math — WebGPU in headless Chromium (both engines in one page, one ORT, one device) and
// CPU in Node (onnxruntime-node for both). Writes seeded tiny models, exports them for
// transformers.js, builds and serves the bench page, and prints prefill/decode tokens/s, and beside
// them the weight bytes each decode step binds and (WebGPU) the dispatches and transfers per token.
//   npx tsx bench/generate/run.ts [--models tiny,mid,0.6b] [--runs 3] [--web-tokens 16] [--node-tokens 64] [--no-web] [--no-node]
//     [--engines ours,tjs,plain,q4,q4f16,f16,tjs-q4,tjs-q4f16 (the page's; all by default, q4f16 and f16 where the device has shader-f16)] [--port 4327]
// The 0.6b model (Qwen3-0.6B's shape, seeded, stored bfloat16) is too big for a float32 transformers.js
// file (ONNX's 2 GiB limit) and SwiftShader's matrix products are slow: give it
// --engines q4,tjs-q4 --web-tokens 2 there. Only the exports the engines load are written.
import { AutoModelForCausalLM, env, Tensor, type PreTrainedModel } from '@huggingface/transformers';
import { mkdir, readFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { exportTransformersModel } from '../../scripts/export-transformersjs.ts';
import { makeTinyModel, type TinyModelOptions } from '../../scripts/make-tiny-model.ts';
import { loadCheckpoint } from '../../src/engine/model-dir.ts';
import { nodeRuntime } from '../../src/engine/runtime-node.ts';
import { Qwen3Session } from '../../src/engine/session.ts';
import { loadBundledTokenizer } from '../../src/engine/tokenizer-node.ts';
import { tjsModelFiles, type TjsDtype } from '../../src/model/qwen3/export-transformers.ts';
import { openBench } from '../serve-site.ts';
import type { GpuCounts } from './gpu-counter.ts';
import type { PageRequest, PageResult } from './main.ts';
import { onnxInitializers } from './onnx-initializers.ts';
import { measure, OURS, OURS_F16, OURS_PLAIN, OURS_Q4, OURS_Q4F16, timeOurs, timeTransformers, TJS, TJS_Q4, TJS_Q4F16, type EngineFailure, type EngineResult, type Spec } from './measure.ts';

const sizes: Record<string, { label: string; options: TinyModelOptions }> = {
  tiny: { label: 'hidden 64, 2 layers, 4/2 heads × 16, ffn 128', options: { seed: 7 } },
  mid: { label: 'hidden 512, 4 layers, 8/4 heads × 64, ffn 1536', options: { seed: 8, hidden: 512, layers: 4, heads: 8, kvHeads: 4, headDim: 64, intermediate: 1536 } },
  '0.6b': { label: 'Qwen3-0.6B shape: hidden 1024, 28 layers, 16/8 heads × 128, ffn 3072', options: { seed: 9, hidden: 1024, layers: 28, heads: 16, kvHeads: 8, headDim: 128, intermediate: 3072, dtype: 'BF16' } },
};

/** --engines' names for the page's engines. */
const ENGINES: Record<string, string> = { ours: OURS, tjs: TJS, plain: OURS_PLAIN, q4: OURS_Q4, q4f16: OURS_Q4F16, f16: OURS_F16, 'tjs-q4': TJS_Q4, 'tjs-q4f16': TJS_Q4F16 };

const QUERY = 'how to configure authentication in nginx';
const work = resolve('.tmp/bench-generate');
const models = join(work, 'models');

function fail(message: string): never {
  throw new Error(message);
}

function parseArgs(args: string[]) {
  const o = { models: ['tiny', 'mid'], runs: 3, webTokens: 16, nodeTokens: 64, web: true, node: true, port: 4327, engines: undefined as string[] | undefined };
  for (let i = 0; i < args.length; i++) {
    // Token counts are 2 at least: decode is timed from the first new token to the last.
    const number = (least: number) => {
      const value = Number(args[++i]);
      if (!Number.isInteger(value) || value < least) throw new Error(`${args[i - 1]} needs an integer ≥ ${least}, got ${args[i]}`);
      return value;
    };
    if (args[i] === '--models') o.models = args[++i]!.split(',');
    else if (args[i] === '--runs') o.runs = number(1);
    else if (args[i] === '--web-tokens') o.webTokens = number(2);
    else if (args[i] === '--node-tokens') o.nodeTokens = number(2);
    else if (args[i] === '--port') o.port = number(1);
    else if (args[i] === '--engines') o.engines = args[++i]!.split(',').map((e) => ENGINES[e] ?? fail(`--engines: unknown engine ${e} (known: ${Object.keys(ENGINES).join(', ')})`));
    else if (args[i] === '--no-web') o.web = false;
    else if (args[i] === '--no-node') o.node = false;
    else throw new Error(`unknown argument ${args[i]}`);
  }
  if (o.engines && o.node) throw new Error('--engines chooses the page\'s engines: add --no-node');
  for (const m of o.models) if (!sizes[m]) throw new Error(`--models: unknown model ${m} (known: ${Object.keys(sizes).join(', ')})`);
  return o;
}

function report(title: string, model: string, spec: Spec, results: (EngineResult | EngineFailure)[]): void {
  const f = (x: number) => x.toFixed(x < 10 ? 2 : 1);
  console.log(`\n${title} · ${model} · prompt ${spec.promptIds.length} tokens, ${spec.newTokens} new, median of ${spec.runs}`);
  console.log('| engine | load ms | prefill ms | prefill tok/s | decode ms/token | decode tok/s |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of results) {
    if ('error' in r) {
      console.log(`| ${r.engine} | failed: ${r.error.split('\n')[0]} | | | | |`);
      continue;
    }
    const m = r.median;
    console.log(`| ${r.engine} | ${r.loadMs.toFixed(0)} | ${f(m.prefillMs)} | ${f(m.prefillTokS)} | ${f(m.decodeMs / (spec.newTokens - 1))} | ${f(m.decodeTokS)} |`);
  }
  for (const r of results) if (!('error' in r)) console.log(`${r.engine} greedy tokens: ${r.median.ids.join(' ')}`);
  for (const r of results) if (!('error' in r)) console.log(`${r.engine} per run: decode ms/token ${r.runs.map((t) => f(t.decodeMs / (spec.newTokens - 1))).join(', ')}; prefill ms ${r.runs.map((t) => f(t.prefillMs)).join(', ')}`);
  const [ours, theirs] = results;
  if (!ours || !theirs || 'error' in ours || 'error' in theirs) return;
  console.log(`| ratio ours / transformers.js (tok/s) | | | ${(ours.median.prefillTokS / theirs.median.prefillTokS).toFixed(2)} | | ${(ours.median.decodeTokS / theirs.median.decodeTokS).toFixed(2)} |`);
  const same = ours.median.ids.join(',') === theirs.median.ids.join(',');
  console.log(same ? 'both generated the same greedy tokens' : `greedy tokens differ: ours ${ours.median.ids.join(' ')} / transformers.js ${theirs.median.ids.join(' ')}`);
}

const MB = (bytes: number) => (bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1);
const count = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
const transfers = (t: { count: number; bytes: number }, steps: number) => `${count(t.count / steps)} / ${count(t.bytes / steps)}`;

/**
 * Beside tok/s: the weight bytes a decode step binds (computed from the session and the ONNX
 * file, not measured) and, from the page's GPU counter, dispatches per prefill and per decoded
 * token, queue submits and transfers per token (count / bytes), then each engine's 10 commonest
 * pipelines per token.
 */
function reportWork(spec: Spec, results: (EngineResult | EngineFailure)[]): void {
  const steps = spec.newTokens - 1;
  const done = results.filter((r): r is EngineResult => !('error' in r));
  const counted = done.filter((r): r is EngineResult & { median: { gpu: { prefill: GpuCounts; decode: GpuCounts } } } => r.median.gpu !== undefined);
  console.log('\n| engine | decode tok/s | weight MB bound per step |' + (counted.length ? ' dispatches / prefill | dispatches / token | submits / token | host→device writes / token (n / B) | mapped uploads / token (n / B) | uniform writes / token (n / B) | buffer copies / token (n / B) | readbacks / token (n / B) |' : ''));
  console.log('|---|---:|---:|' + (counted.length ? '---:|'.repeat(8) : ''));
  for (const r of done) {
    const g = r.median.gpu;
    const work = g
      ? ` ${g.prefill.dispatches} | ${count(g.decode.dispatches / steps)} | ${count(g.decode.submits / steps)} | ${transfers(g.decode.writes, steps)} | ${transfers(g.decode.mappedAtCreation, steps)} | ${transfers(g.decode.uniformWrites, steps)} | ${transfers(g.decode.copies, steps)} | ${transfers(g.decode.readbacks, steps)} |`
      : '';
    console.log(`| ${r.engine} | ${r.median.decodeTokS.toFixed(2)} | ${r.weightBytes === undefined ? '?' : MB(r.weightBytes)} |${work}`);
  }
  for (const r of counted) {
    console.log(`${r.engine}: dispatches per token by run ${r.runs.map((t) => (t.gpu ? count(t.gpu.decode.dispatches / steps) : '?')).join(', ')}; top pipelines per token:`);
    const kinds = Object.entries(r.median.gpu.decode.kinds).sort((a, b) => b[1] - a[1]);
    for (const [kind, n] of kinds.slice(0, 10)) console.log(`  ${count(n / steps).padStart(6)}  ${kind}`);
    if (kinds.length > 10) console.log(`  ${count(kinds.slice(10).reduce((sum, [, n]) => sum + n, 0) / steps).padStart(6)}  (${kinds.length - 10} other pipelines)`);
  }
}

/** Each transformers.js engine's `dtype`: the file of the export it loads. */
const tjsDtypes: Record<string, TjsDtype> = { [TJS]: 'fp32', [TJS_Q4]: 'q4', [TJS_Q4F16]: 'q4f16' };
const exported = (engines: string[] | undefined) => Object.entries(tjsDtypes).filter(([engine]) => !engines || engines.includes(engine));

/** transformers.js binds every initializer of its onnx/ file on each run: the model's weights and the baked tables. */
async function initializerBytes(name: string, dtype: TjsDtype): Promise<{ total: number; weights: number }> {
  const file = join(models, name, 'onnx', tjsModelFiles[dtype]);
  const all = onnxInitializers(await readFile(file), file);
  const sum = (list: typeof all) => list.reduce((s, i) => s + i.bytes, 0);
  return { total: sum(all), weights: sum(all.filter((i) => i.name.startsWith('model.') || i.name.startsWith('lm_head.weight'))) };
}

async function withTransformersBytes(name: string, results: (EngineResult | EngineFailure)[]): Promise<(EngineResult | EngineFailure)[]> {
  const bytes = new Map<string, number>();
  for (const [engine, dtype] of exported(options.engines)) {
    const b = await initializerBytes(name, dtype);
    console.log(`transformers.js ${dtype} ${name}: initializers ${MB(b.total)} MB, of which the model's weights ${MB(b.weights)} MB (the rest: RoPE and mask tables)`);
    bytes.set(engine, b.total);
  }
  return results.map((r) => ('error' in r || !bytes.has(r.engine) ? r : { ...r, weightBytes: bytes.get(r.engine)! }));
}

async function benchNode(name: string, spec: Spec): Promise<EngineResult[]> {
  const { config, weights } = await loadCheckpoint(join(models, `${name}-hf`));
  let start = performance.now();
  const ours = await Qwen3Session.load(nodeRuntime, config, weights);
  const oursLoadMs = performance.now() - start;
  start = performance.now();
  const plain = await Qwen3Session.load(nodeRuntime, config, weights, { decoder: 'plain' });
  const plainLoadMs = performance.now() - start;
  env.allowRemoteModels = false;
  env.localModelPath = models;
  start = performance.now();
  const model = await AutoModelForCausalLM.from_pretrained(name, { device: 'cpu', dtype: 'fp32' });
  const tjsLoadMs = performance.now() - start;
  start = performance.now();
  const q4 = await Qwen3Session.load(nodeRuntime, config, weights, { weightDtype: 'q4' });
  const q4LoadMs = performance.now() - start;
  const tjs4: { model: PreTrainedModel; loadMs: number }[] = [];
  for (const dtype of ['q4', 'q4f16'] as const) {
    start = performance.now();
    tjs4.push({ model: await AutoModelForCausalLM.from_pretrained(name, { device: 'cpu', dtype }), loadMs: performance.now() - start });
  }
  const results = await measure(
    [
      { engine: OURS, loadMs: oursLoadMs, weightBytes: ours.memory().weights, once: () => timeOurs(ours, spec) },
      { engine: TJS, loadMs: tjsLoadMs, once: () => timeTransformers(model, Tensor, spec) },
      { engine: OURS_PLAIN, loadMs: plainLoadMs, weightBytes: plain.memory().weights, once: () => timeOurs(plain, spec) },
      { engine: OURS_Q4, loadMs: q4LoadMs, weightBytes: q4.memory().weights, once: () => timeOurs(q4, spec) },
      ...[TJS_Q4, TJS_Q4F16].map((engine, i) => ({ engine, loadMs: tjs4[i]!.loadMs, once: () => timeTransformers(tjs4[i]!.model, Tensor, spec) })),
    ],
    spec,
  );
  await ours.release();
  await plain.release();
  await q4.release();
  for (const t of tjs4) await t.model.dispose();
  await model.dispose();
  return results;
}


async function benchWeb(names: string[], specs: Map<string, Spec>, port: number, engines: string[] | undefined): Promise<{ browser: string; adapter: string; results: Map<string, (EngineResult | EngineFailure)[]> }> {
  const site = join(work, 'site');
  const { browser, url, close } = await openBench('generate', site, port, models);
  try {
    const results = new Map<string, (EngineResult | EngineFailure)[]>();
    let adapter = '';
    for (const name of names) {
      // A fresh page per model: no GPU memory or sessions carried over between sizes.
      const page = await browser.newPage();
      page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
      await page.goto(url);
      await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'ready', undefined, { timeout: 60_000 });
      const request: PageRequest = { ...specs.get(name)!, hfModel: `/models/${name}-hf`, tjsModel: name, engines };
      const out: PageResult = await page.evaluate((r) => window.runGenerationBench(r), request);
      adapter = out.adapter;
      results.set(name, out.results);
      await page.close();
    }
    return { browser: `Chromium ${browser.version()}`, adapter, results };
  } finally {
    await close();
  }
}

const options = parseArgs(process.argv.slice(2));
const promptIds = (await loadBundledTokenizer()).promptIds(QUERY);
await mkdir(models, { recursive: true });
for (const name of options.models) {
  await makeTinyModel(join(models, `${name}-hf`), sizes[name]!.options);
  const dtypes = exported(options.engines).map(([, dtype]) => dtype);
  if (dtypes.length) await exportTransformersModel(join(models, `${name}-hf`), join(models, name), { dtypes });
}
console.log(`Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} logical cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`);
console.log(`Prompt: QMD v4 prompt for "${QUERY}" (${promptIds.length} tokens); greedy; no stop tokens`);

if (options.node) {
  for (const name of options.models) {
    const spec = { promptIds, newTokens: options.nodeTokens, runs: options.runs };
    const results = await withTransformersBytes(name, await benchNode(name, spec));
    report('onnxruntime-node CPU', `${name}: ${sizes[name]!.label}`, spec, results);
    reportWork(spec, results);
  }
}
if (options.web) {
  const specs = new Map(options.models.map((name) => [name, { promptIds, newTokens: options.webTokens, runs: options.runs }]));
  const web = await benchWeb(options.models, specs, options.port, options.engines);
  for (const name of options.models) {
    const label = /swiftshader/i.test(web.adapter) ? 'SwiftShader (CPU) WebGPU — not GPU performance; ratio only' : 'WebGPU';
    const results = await withTransformersBytes(name, web.results.get(name)!);
    report(`${label} (${web.browser}, adapter: ${web.adapter})`, `${name}: ${sizes[name]!.label}`, specs.get(name)!, results);
    reportWork(specs.get(name)!, results);
  }
}
