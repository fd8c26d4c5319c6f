// The bench page: one case per page load (a fresh ORT device, so no case inherits another's
// buffer pool). Loads a model folder onto WebGPU as the worker does (fp32 weights, vocabulary split
// under the device's binding limit), says what the page would show for the run before it starts
// (train-memory.ts, the worker's `train-memory` request), then runs train steps on the batch it is
// given and measures the peak of live GPU buffer bytes in each (meter.ts). Driven by run.ts
// through `window.runTrainStepBench`.
import { blobSource } from '../../src/model/byte-source.ts';
import { parseQwen3Config } from '../../src/model/config.ts';
import { SafetensorsFile } from '../../src/model/safetensors.ts';
import type { TrainBatch } from '../../src/engine/batches.ts';
import { createWebRuntime } from '../../src/engine/runtime-web.ts';
import { Qwen3Session } from '../../src/engine/session.ts';
import { sftTrainer } from '../../src/engine/sft.ts';
import type { TrainConfig } from '../../src/engine/train-config.ts';
import { trainMemoryEstimate, type TrainMemoryEstimate } from '../../src/engine/train-memory.ts';
import { sessionWeights } from '../../src/engine/trainer.ts';
import { meterBuffers } from './meter.ts';

export interface CaseRequest {
  /** URL folder of the model (config.json, model.safetensors). */
  model: string;
  config: TrainConfig;
  batch: TrainBatch;
  /** Train steps to run; the first builds the train-step and AdamW sessions. */
  steps: number;
}

export interface StepMeasurement {
  ms: number;
  /** Live bytes when the step started, at its peak, when it ended. */
  start: number;
  peak: number;
  end: number;
  /** Buffers created during the step (not served from ORT's pool). */
  created: number;
  /** Live buffers by size at the peak, largest totals first. */
  atPeak: [number, number][];
  loss: number;
}

export interface CaseResult {
  adapter: string;
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number };
  vocabularyChunks: number;
  estimate: TrainMemoryEstimate;
  estimateMs: number;
  /** Live bytes after the load (the weights), after the trainer's state is uploaded. */
  loaded: number;
  trainer: number;
  sessionWeights: number;
  steps: StepMeasurement[];
  /** Live bytes after the trainer and the session were released (ORT's pool keeps its buffers). */
  released: number;
}

declare global {
  interface Window {
    runTrainStepBench(request: CaseRequest): Promise<CaseResult>;
  }
}

const runtime = createWebRuntime();
const status = (text: string) => void (document.querySelector('#status')!.textContent = text);

async function fetchOk(url: string): Promise<Response> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response;
}

function adapterName(gpu: GPUDevice): string {
  const info = (gpu as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  return info ? [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') : 'unknown adapter';
}

window.runTrainStepBench = async ({ model, config, batch, steps }) => {
  const gpu = await runtime.device();
  const meter = meterBuffers(gpu);
  status('loading');
  const modelConfig = parseQwen3Config(await (await fetchOk(`${model}/config.json`)).json(), `${model}/config.json`);
  const file = await SafetensorsFile.open(blobSource(await (await fetchOk(`${model}/model.safetensors`)).blob(), 'model.safetensors'));
  // As browser-model.ts loads for a device without shader-f16 (SwiftShader has none).
  const maxBindingBytes = Math.min(gpu.limits.maxBufferSize, gpu.limits.maxStorageBufferBindingSize);
  const session = await Qwen3Session.load(runtime, modelConfig, { read: (name) => file.readStored(name) }, { maxBindingBytes, weightDtype: 'float32', graphs: 'lazy' });
  const loaded = meter.live;
  status('estimating');
  let t = performance.now();
  const estimate = trainMemoryEstimate(modelConfig, session.layout, config, session.memory().weights);
  const estimateMs = performance.now() - t;
  const trainer = await sftTrainer(runtime, modelConfig, sessionWeights(session), config);
  const afterTrainer = meter.live;
  const measured: StepMeasurement[] = [];
  for (let i = 0; i < steps; i++) {
    status(`step ${i + 1} of ${steps}`);
    meter.reset();
    const start = meter.live;
    t = performance.now();
    const { loss } = await trainer.step([batch], config.optimizer.lr);
    measured.push({ ms: performance.now() - t, start, peak: meter.peak, end: meter.live, created: meter.created, atPeak: meter.atPeak, loss });
  }
  await trainer.release();
  const sessionWeightBytes = session.memory().weights;
  await session.release();
  status('done');
  return {
    adapter: adapterName(gpu),
    limits: { maxBufferSize: gpu.limits.maxBufferSize, maxStorageBufferBindingSize: gpu.limits.maxStorageBufferBindingSize },
    vocabularyChunks: session.layout.chunks.length,
    estimate,
    estimateMs,
    loaded,
    trainer: afterTrainer,
    sessionWeights: sessionWeightBytes,
    steps: measured,
    released: meter.live,
  };
};

status('ready');
