// The bench page: loads one model three times on WebGPU — our Qwen3Session on its fused graphs and
// on the plain ones (weights from model.safetensors) and transformers.js (the exported
// onnx/model.onnx) — in one ORT and on one
// GPU device, and times greedy generation with each, the two taking turns, counting what each asks
// of the GPU (gpu-counter.ts) in prefill and per decoded token. bench/generate/run.ts drives it through
// `window.runGenerationBench`. Then also ours with q4 weights and transformers.js on the q4 / q4f16
// exports (onnx/model_q4.onnx, model_q4f16.onnx: its best layout, contrib ops and MatMulNBits), and
// where the device has shader-f16 ours with f16 weights (the page's default there) and with q4f16 ones.
import { AutoModelForCausalLM, env, Tensor, type PreTrainedModel } from '@huggingface/transformers';
import { blobSource } from '../../src/model/byte-source.ts';
import { parseQwen3Config } from '../../src/model/config.ts';
import { SafetensorsFile } from '../../src/model/safetensors.ts';
import { qwen3TensorShapes } from '../../src/model/tensors.ts';
import type { TjsDtype } from '../../src/model/qwen3/export-transformers.ts';
import type { LayoutDtype } from '../../src/model/qwen3/layout.ts';
import { createWebRuntime } from '../../src/engine/runtime-web.ts';
import { Qwen3Session } from '../../src/engine/session.ts';
import { installGpuCounter } from './gpu-counter.ts';
import { measure, OURS, OURS_F16, OURS_PLAIN, OURS_Q4, OURS_Q4F16, timeOurs, timeTransformers, TJS, TJS_Q4, TJS_Q4F16, type Contender, type EngineFailure, type EngineResult, type Spec } from './measure.ts';

export interface PageRequest extends Spec {
  /** URL folder of the HF model (config.json, model.safetensors). */
  hfModel: string;
  /** Folder under /models/ of the transformers.js export. */
  tjsModel: string;
  /** The engines to load and time (run.ts ENGINES' values); all when absent. */
  engines?: string[];
}

export interface PageResult {
  adapter: string;
  results: (EngineResult | EngineFailure)[];
}

declare global {
  interface Window {
    runGenerationBench(request: PageRequest): Promise<PageResult>;
  }
}

// Before any device exists: ORT makes its one device at the first WebGPU session, for both engines.
const counter = installGpuCounter();
// Before transformers.js' first session: ORT's wasm comes from this build, never a CDN.
const runtime = createWebRuntime();

const status = (text: string) => void (document.querySelector('#status')!.textContent = text);

async function fetchOk(url: string): Promise<Response> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response;
}

// As workers/engine.worker.ts and browser-model.ts loadModel: ORT's device is brought up (and kept
// by the runtime's resident session) before any upload, and the vocabulary is split under this
// device's binding limit. Weights stay float32 even where shader-f16 would give float16 (but for
// the f16 engine): the transformers.js export is float32, and the two engines must run the same math.
// For the same reason the LM head is the GPU's MatMul even on SwiftShader, where the session would
// take its fallback product (forward.ts HeadProduct, timed by bench/lm-head): the counts per token
// are what a GPU runs, and the times compare like with like.
async function loadOurs(folder: string, decoder: 'fused' | 'plain', weightDtype: LayoutDtype = 'float32'): Promise<Qwen3Session> {
  const { limits } = await runtime.device();
  const config = parseQwen3Config(await (await fetchOk(`${folder}/config.json`)).json(), `${folder}/config.json`);
  const file = await SafetensorsFile.open(blobSource(await (await fetchOk(`${folder}/model.safetensors`)).blob(), 'model.safetensors'));
  const weights = new Map<string, Float32Array>();
  for (const name of qwen3TensorShapes(config).keys()) weights.set(name, await file.read(name));
  const maxBindingBytes = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  return Qwen3Session.load(runtime, config, weights, { maxBindingBytes, weightDtype, decoder, head: 'matmul' });
}

async function adapterName(): Promise<string> {
  const device = await runtime.device();
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  return info ? [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') : 'unknown adapter';
}

async function loadTransformers(folder: string, dtype: TjsDtype = 'fp32'): Promise<PreTrainedModel> {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = '/models/';
  return AutoModelForCausalLM.from_pretrained(folder, { device: 'webgpu', dtype });
}

window.runGenerationBench = async (request) => {
  const contenders: Contender[] = [];
  const failures: EngineFailure[] = [];

  // Ours on the fused graphs (the session's default) and on the plain ones; ratios are read from the first two rows.
  const ours: Qwen3Session[] = [];
  const oursOf = async (engine: string, decoder: 'fused' | 'plain', weightDtype?: 'q4' | 'q4f16' | 'float16') => {
    status(`loading our session (${decoder}${weightDtype ? `, ${weightDtype}` : ''})`);
    const start = performance.now();
    try {
      const session = await loadOurs(request.hfModel, decoder, weightDtype);
      ours.push(session);
      // Every weight and adapter tensor is an input of each decode step (no adapter is set here).
      const { weights, lora } = session.memory();
      return { engine, loadMs: performance.now() - start, weightBytes: weights + lora, once: () => timeOurs(session, request, counter) };
    } catch (error) {
      // Still time the others, and say why this row is missing.
      failures.push({ engine, error: (error as Error).stack ?? (error as Error).message });
      return null;
    }
  };
  const wanted = (engine: string) => !request.engines || request.engines.includes(engine);
  const fused = wanted(OURS) ? await oursOf(OURS, 'fused') : null;
  if (fused) contenders.push(fused);

  const models: PreTrainedModel[] = [];
  if (wanted(TJS)) {
    status('loading transformers.js');
    const start = performance.now();
    const model = await loadTransformers(request.tjsModel);
    models.push(model);
    contenders.push({ engine: TJS, loadMs: performance.now() - start, once: () => timeTransformers(model, Tensor, request, counter) });
  }
  const plain = wanted(OURS_PLAIN) ? await oursOf(OURS_PLAIN, 'plain') : null;
  if (plain) contenders.push(plain);
  const q4 = wanted(OURS_Q4) ? await oursOf(OURS_Q4, 'fused', 'q4') : null;
  if (q4) contenders.push(q4);
  const f16 = (await runtime.device()).features.has('shader-f16');
  // f16 weights need shader-f16 (the page loads f32 without it); without it a row says so (`skipped`).
  const half = wanted(OURS_F16) && f16 ? await oursOf(OURS_F16, 'fused', 'float16') : null;
  if (half) contenders.push(half);
  const q4f16 = wanted(OURS_Q4F16) && f16 ? await oursOf(OURS_Q4F16, 'fused', 'q4f16') : null;
  if (q4f16) contenders.push(q4f16);
  // transformers.js on the onnx-community layout (contrib ops, 4-bit). q4f16's kernels need shader-f16:
  // without it ORT loads the model and fails at the first run, so it is not timed there (listed last,
  // after the timed rows: run.ts reads its ratios from the first two).
  const skipped: EngineFailure[] = f16 ? [] : [OURS_F16, OURS_Q4F16, TJS_Q4F16].filter(wanted).map((engine) => ({ engine, error: 'not run: the device has no shader-f16' }));
  const quantizedEngines = f16 ? ([[TJS_Q4, 'q4'], [TJS_Q4F16, 'q4f16']] as const) : ([[TJS_Q4, 'q4']] as const);
  for (const [engine, dtype] of quantizedEngines.filter(([engine]) => wanted(engine))) {
    status(`loading transformers.js ${dtype}`);
    const start = performance.now();
    try {
      const m = await loadTransformers(request.tjsModel, dtype);
      models.push(m);
      contenders.push({ engine, loadMs: performance.now() - start, once: () => timeTransformers(m, Tensor, request, counter) });
    } catch (error) {
      failures.push({ engine, error: (error as Error).stack ?? (error as Error).message });
    }
  }

  status('timing');
  const results: (EngineResult | EngineFailure)[] = [...failures, ...(await measure(contenders, request)), ...skipped];
  for (const session of ours) await session.release();
  for (const m of models) await m.dispose();

  status('done');
  return { adapter: await adapterName(), results };
};

status('ready');
