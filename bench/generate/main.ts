// The bench page: loads one model twice on WebGPU — our Qwen3Session (weights from
// model.safetensors) and transformers.js (the exported onnx/model.onnx) — in one ORT and on one
// GPU device, and times greedy generation with each. bench/generate/run.ts drives it through
// `window.runGenerationBench`.
import { AutoModelForCausalLM, env, Tensor } from '@huggingface/transformers';
import { blobSource } from '../../src/model/byte-source.ts';
import { parseQwen3Config } from '../../src/model/config.ts';
import { SafetensorsFile } from '../../src/model/safetensors.ts';
import { qwen3TensorShapes } from '../../src/model/tensors.ts';
import { createWebRuntime } from '../../src/engine/runtime-web.ts';
import { Qwen3Session } from '../../src/engine/session.ts';
import { measure, timeOurs, timeTransformers, type EngineFailure, type EngineResult, type Spec } from './measure.ts';

const OURS = 'ours (Qwen3Session + generate)';

export interface PageRequest extends Spec {
  /** URL folder of the HF model (config.json, model.safetensors). */
  hfModel: string;
  /** Folder under /models/ of the transformers.js export. */
  tjsModel: string;
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

// Before transformers.js' first session: ORT's wasm comes from this build, never a CDN.
const runtime = createWebRuntime();

const status = (text: string) => void (document.querySelector('#status')!.textContent = text);

async function fetchOk(url: string): Promise<Response> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response;
}

async function loadOurs(folder: string): Promise<Qwen3Session> {
  const config = parseQwen3Config(await (await fetchOk(`${folder}/config.json`)).json(), `${folder}/config.json`);
  const file = await SafetensorsFile.open(blobSource(await (await fetchOk(`${folder}/model.safetensors`)).blob(), 'model.safetensors'));
  const weights = new Map<string, Float32Array>();
  for (const name of qwen3TensorShapes(config).keys()) weights.set(name, await file.read(name));
  return Qwen3Session.load(runtime, config, weights);
}

async function adapterName(): Promise<string> {
  const device = await runtime.device();
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  return info ? [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') : 'unknown adapter';
}

window.runGenerationBench = async (request) => {
  const results: (EngineResult | EngineFailure)[] = [];

  status('loading our session');
  let start = performance.now();
  try {
    const ours = await loadOurs(request.hfModel);
    const loadMs = performance.now() - start;
    status('timing our loop');
    results.push(await measure(OURS, loadMs, request, () => timeOurs(ours, request)));
    await ours.release();
  } catch (error) {
    // Still time transformers.js, and say why our row is missing.
    results.push({ engine: OURS, error: (error as Error).message });
  }

  status('loading transformers.js');
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = '/models/';
  start = performance.now();
  const model = await AutoModelForCausalLM.from_pretrained(request.tjsModel, { device: 'webgpu', dtype: 'fp32' });
  const loadMs = performance.now() - start;
  status('timing transformers.js');
  results.push(await measure('transformers.js generate', loadMs, request, () => timeTransformers(model, Tensor, request)));
  await model.dispose();

  status('done');
  return { adapter: await adapterName(), results };
};

status('ready');
