// The engine worker: owns onnxruntime-web and ORT's GPU device, the loaded model and adapters.
// Requests run one at a time (they share the GPU and the KV cache); `cancel` is handled at once.
// Every failure becomes a structured error for that request and the worker stays usable,
// except after a lost device, which drops the model (the next load starts afresh).
import { DEFAULT_PROMPT_FORMAT, promptFormat, type PromptFormat } from '../src/model/prompt.ts';
import { OpfsCache } from '../src/model/hub/opfs-cache.ts';
import type { LoadDtype } from '../src/model/hub/estimate.ts';
import { floatWeights } from '../src/model/qwen3/layout.ts';
import { BUDGET_BUFFERS, loadAdapter, loadModel, modelFolder, type LoadedModel } from '../src/engine/browser-model.ts';
import { generate, type Decoder } from '../src/engine/generate.ts';
import { classifyError } from '../src/engine/errors.ts';
import { createWebRuntime } from '../src/engine/runtime-web.ts';
import { stripThink } from '../src/engine/sampling.ts';
import { STOP_TOKENS } from '../src/engine/tokenizer.ts';
import {
  ENGINE_TEST_NAME,
  EngineError,
  type AdapterInfo,
  type EngineEvent,
  type FromWorker,
  type Request,
  type Results,
  type ToWorker,
} from '../src/engine/protocol.ts';
import { TokenStream } from '../src/engine/token-stream.ts';
import { runTrainJob, trainResult } from '../src/engine/train-job.ts';
import { adapterFingerprint } from '../src/engine/grpo-checkpoint.ts';
import { runGrpoJob } from '../src/engine/grpo-job.ts';
import { writePeftAdapter } from '../src/model/peft.ts';
import { grpoMemoryEstimate, trainMemoryEstimate, trainMemoryRefusal } from '../src/engine/train-memory.ts';

const runtime = createWebRuntime();
const cache = new OpfsCache();

let model: LoadedModel | null = null;
/** The loaded model's prompt format (load-model's promptFormat): what generate asks it in. */
let modelFormat: PromptFormat = DEFAULT_PROMPT_FORMAT;
let modelBytes = 0;
/** Adapters resident on the GPU in the session, by id: generate switches between them by reference. */
const adapters = new Map<string, AdapterInfo>();
/** The adapter the session currently runs with (undefined: not set since the load). */
let active: string | null | undefined;
/** The SFT adapter a GRPO run merged into the loaded weights (mergeAdapter cannot be undone): null while they are the checkpoint's. */
let merged: { id: string; sft: { name: string; fingerprint: string } } | null = null;
const controllers = new Map<number, AbortController>();
/** Train requests asked to pause: each ends after its step in flight (runTrainJob's pause hook). */
const pauses = new Set<number>();
let queue: Promise<void> = Promise.resolve();
let watchingDevice = false;

const post = (message: FromWorker, transfer: Transferable[] = []) => postMessage(message, { transfer });

function requireModel(): LoadedModel {
  if (!model) throw new EngineError('bad_model', 'no model is loaded: load a base model first');
  return model;
}

async function watchDevice(): Promise<void> {
  if (watchingDevice) return;
  watchingDevice = true;
  const device = await runtime.device();
  void device.lost.then((info) => {
    model = null;
    adapters.clear();
    const message = `the GPU device was lost (${info.reason}: ${info.message || 'no details'}); reload the model to continue`;
    post({ id: null, kind: 'device-lost', error: { code: 'device_lost', message } });
  });
}

async function limits() {
  const { limits } = await runtime.device();
  return { maxBufferSize: limits.maxBufferSize, maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize };
}

/** The bytes a run may hold: the load budget's (browser-model.ts), since WebGPU tells no memory size. */
async function trainBudget(): Promise<number> {
  return BUDGET_BUFFERS * (await limits()).maxBufferSize;
}

async function caps(weights: LoadDtype = 'f16') {
  return { limits: await limits(), shaderF16: (await runtime.device()).features.has('shader-f16'), weights };
}

/** The loaded model, when its weights can be trained on: a q4 load cannot (layout.ts floatWeights), said before any work. */
function trainableModel(what: string): LoadedModel {
  const loaded = requireModel();
  try {
    floatWeights(loaded.session.layout, what);
  } catch (error) {
    throw new EngineError('bad_model', (error as Error).message);
  }
  return loaded;
}

/** Runs `work` inside a GPU out-of-memory error scope, so an allocation failure is reported, not lost. */
async function guardMemory<T>(what: string, work: () => Promise<T>): Promise<T> {
  const device = await runtime.device();
  device.pushErrorScope('out-of-memory');
  let result: T;
  try {
    result = await work();
  } finally {
    const error = await device.popErrorScope();
    if (error) throw new EngineError('oom', `the GPU ran out of memory while ${what}: ${error.message}`);
  }
  return result;
}

async function handle(id: number, request: Request, signal: AbortSignal): Promise<Results[Request['type']]> {
  const emit = (event: EngineEvent) => post({ id, kind: 'event', event });
  const checkCancel = () => {
    if (signal.aborted) throw new EngineError('cancelled', `${request.type} was cancelled`);
  };
  checkCancel();
  switch (request.type) {
    case 'load-model': {
      // Checked before anything is unloaded or downloaded.
      const format = promptFormat(request.promptFormat ?? DEFAULT_PROMPT_FORMAT.id, 'load-model');
      await unload();
      await watchDevice();
      const started = performance.now();
      const folder = modelFolder(request.source, cache, signal, emit);
      const before = runtime.memory().bytes;
      model = await guardMemory('uploading the weights', async () => loadModel(folder, runtime, await caps(request.weights), emit));
      modelBytes = runtime.memory().bytes - before;
      modelFormat = format;
      const { config } = model;
      return {
        name: model.name,
        layers: config.numLayers,
        hidden: config.hiddenSize,
        vocab: config.vocabSize,
        parameters: model.parameters,
        bytes: modelBytes,
        seconds: (performance.now() - started) / 1000,
        warnings: model.warnings,
        weightsFrom: model.weightsFrom,
        promptFormat: format.id,
        head: model.session.head,
      };
    }
    case 'load-adapter': {
      const { config } = requireModel();
      const { name, adapter } = await loadAdapter(request.source, config, cache, signal, emit);
      const { r, alpha, targets } = adapter.config;
      const info: AdapterInfo = { id: request.id, name, rank: r, alpha, targets: [...targets] };
      await guardMemory('uploading the adapter', () => requireModel().session.addAdapter(request.id, adapter));
      adapters.set(request.id, info);
      if (active === request.id) active = undefined;
      return info;
    }
    case 'unload-adapter':
      if (adapters.delete(request.id)) await requireModel().session.removeAdapter(request.id);
      if (active === request.id) active = undefined;
      return null;
    case 'unload':
      await unload();
      return null;
    case 'generate': {
      const loaded = requireModel();
      const { adapter, query, sampling } = request;
      if (adapter !== null && !adapters.has(adapter)) throw new EngineError('unsupported_adapter', `adapter ${adapter} is not loaded`);
      if (active !== adapter) {
        await loaded.session.useAdapter(adapter);
        active = adapter;
      }
      const format = request.promptFormat === undefined ? modelFormat : promptFormat(request.promptFormat, 'generate');
      const promptIds = loaded.tokenizer.promptIds(query, format);
      const decoder: Decoder = {
        forward: (ids) => {
          checkCancel();
          return loaded.session.forward(ids);
        },
        reset: () => loaded.session.reset(),
        forwardGreedy: (ids) => {
          checkCancel();
          return loaded.session.forwardGreedy(ids);
        },
      };
      const stream = new TokenStream(loaded.tokenizer);
      const result = await generate(decoder, promptIds, { ...sampling, stopTokens: STOP_TOKENS }, (token) =>
        emit({ type: 'token', ...stream.push(token) }),
      );
      return {
        ids: result.ids,
        text: stripThink(loaded.tokenizer.decode(result.ids)).trim(),
        finish: result.finish,
        tokensPerSecond: stream.tokensPerSecond(),
        promptTokens: promptIds.length,
      };
    }
    case 'train-memory': {
      const loaded = trainableModel('training');
      const estimate = trainMemoryEstimate(loaded.config, loaded.session.layout, request.config, loaded.session.memory().weights);
      const budgetBytes = await trainBudget();
      return { estimate, budgetBytes, refusal: trainMemoryRefusal(estimate, budgetBytes, request.config) };
    }
    case 'grpo-memory': {
      const loaded = trainableModel('GRPO');
      const estimate = grpoMemoryEstimate(loaded.config, loaded.session.layout, request.config, loaded.session.memory().weights);
      const budgetBytes = await trainBudget();
      return { estimate, budgetBytes, refusal: trainMemoryRefusal(estimate, budgetBytes, request.config.train) };
    }
    case 'memory': {
      const memory = runtime.memory();
      const counts = runtime.counts();
      return {
        gpuBuffers: memory.buffers,
        gpuBytes: memory.bytes,
        liveBuffers: counts.buffers,
        liveBufferBytes: counts.bytes,
        deviceTensors: counts.tensors,
        session: model?.session.memory() ?? null,
        limits: model ? await limits() : null,
        adapter: active ?? null,
      };
    }
    case 'placements': {
      // The decode graph is the hot one: it runs once per generated token; the adapter kind has every op the base one has.
      const { session } = requireModel();
      return runtime.placements(session.decoderBytes('adapter', true));
    }
    case 'train': {
      const loaded = trainableModel('training');
      const { adapterId, config, maxSteps, resume, checkpointEvery, validateEvery, sampleEvery, sampleQueries } = request;
      const rows = { train: request.train, validation: request.validation };
      // Samples run the adapter trained so far on the session, which runs the base model after them.
      if (sampleEvery) active = undefined;
      const memoryBudget = await trainBudget();
      const outcome = await guardMemory('training the adapter', () =>
        runTrainJob(runtime, loaded, { rows, config, maxSteps, resume, checkpointEvery, validateEvery, sampleEvery, sampleQueries, memoryBudget }, {
          onStep: (step) => emit({ type: 'train-step', step, gpuBytes: runtime.counts().bytes }),
          onPhase: (phase) => emit({ type: 'train-phase', phase }),
          onProgress: (progress) => emit({ type: 'train-progress', progress }),
          // exportState reads every tensor into its own buffer: the worker hands them over rather than copy them.
          onCheckpoint: async (checkpoint) =>
            post({ id, kind: 'event', event: { type: 'train-checkpoint', checkpoint } }, Object.values(checkpoint.state.tensors).map((t) => t.buffer)),
          stop: () => signal.aborted,
          pause: () => pauses.has(id),
        }),
      );
      // Kept resident like a loaded adapter: "use it" selects it without a byte round trip.
      const { r, alpha, targets } = outcome.adapter.config;
      const info: AdapterInfo = { id: adapterId, name: 'trained adapter', rank: r, alpha, targets: [...targets] };
      await guardMemory('keeping the trained adapter', () => loaded.session.addAdapter(adapterId, outcome.adapter));
      adapters.set(adapterId, info);
      if (active === adapterId) active = undefined;
      return trainResult(outcome, loaded.config, info);
    }
    case 'grpo': {
      const loaded = trainableModel('GRPO');
      const { adapterId, sftAdapter, prompts, config, guard, maxSteps, resume, checkpointEvery } = request;
      const memoryBudget = await trainBudget();
      // Before the SFT adapter is merged: a run that cannot fit leaves the loaded weights as they are.
      const tooBig = trainMemoryRefusal(grpoMemoryEstimate(loaded.config, loaded.session.layout, config, loaded.session.memory().weights), memoryBudget, config.train);
      if (tooBig) throw new EngineError('too_large', `cannot run GRPO: ${tooBig}`);
      const sftId = sftAdapter?.id ?? null;
      if (merged !== null && merged.id !== sftId) {
        throw new EngineError('bad_model', `the loaded weights have the adapter ${merged.sft.name} merged into them (an earlier GRPO run): load the model again to train on ${sftId === null ? 'the base alone' : 'another SFT adapter'}`);
      }
      if (sftAdapter && merged === null) {
        const { name, adapter } = await loadAdapter(sftAdapter.source, loaded.config, cache, signal, emit);
        try {
          await guardMemory('merging the SFT adapter', () => loaded.session.mergeAdapter(adapter));
        } catch (error) {
          // Partly merged weights are neither model: drop them, so nothing runs on them.
          await unload();
          throw error;
        }
        merged = { id: sftAdapter.id, sft: { name, fingerprint: adapterFingerprint(adapter) } };
      }
      // Generation samples with the adapter being trained; the session runs the base after.
      active = undefined;
      const outcome = await guardMemory('training the adapter', () =>
        runGrpoJob(runtime, loaded, { prompts, config, guard, maxSteps, resume, checkpointEvery, sft: merged?.sft ?? null }, {
          onStep: (step) => emit({ type: 'grpo-step', step, gpuBytes: runtime.counts().bytes }),
          onPhase: (phase) => emit({ type: 'grpo-phase', phase }),
          onProgress: (progress) => emit({ type: 'grpo-progress', progress }),
          onCheckpoint: async (checkpoint) =>
            post({ id, kind: 'event', event: { type: 'grpo-checkpoint', checkpoint } }, Object.values(checkpoint.state.tensors).map((t) => t.buffer)),
          stop: () => signal.aborted,
          pause: () => pauses.has(id),
        }),
      );
      const { adapter, ...rest } = outcome;
      const { r, alpha, targets } = adapter.config;
      const info: AdapterInfo = { id: adapterId, name: 'GRPO adapter', rank: r, alpha, targets: [...targets] };
      await guardMemory('keeping the trained adapter', () => loaded.session.addAdapter(adapterId, adapter));
      adapters.set(adapterId, info);
      const peft = writePeftAdapter(adapter, loaded.config);
      return { ...rest, adapterConfig: new TextEncoder().encode(peft.configJson), adapterWeights: peft.safetensors, adapter: info };
    }
    case 'debug':
      return debug(request.action);
    case 'cancel':
    case 'pause':
      return null;
  }
}

// The two failures the UI must survive, on demand, for the e2e test of "Reload model".
async function debug(action: 'crash' | 'lose-device'): Promise<null> {
  if (self.name !== ENGINE_TEST_NAME) throw new EngineError('internal', `debug requests are accepted only by a worker named ${ENGINE_TEST_NAME} (test mode)`);
  if (action === 'lose-device') (await runtime.device()).destroy();
  else
    setTimeout(() => {
      throw new Error('crash requested by a debug request');
    });
  return null;
}

async function unload(): Promise<void> {
  const loaded = model;
  model = null;
  adapters.clear();
  active = undefined;
  merged = null;
  if (loaded) await loaded.session.release();
}

onmessage = (event: MessageEvent<ToWorker>) => {
  const { id, request } = event.data;
  if (request.type === 'cancel') {
    controllers.get(request.target)?.abort();
    post({ id, kind: 'result', result: null });
    return;
  }
  if (request.type === 'pause') {
    if (controllers.has(request.target)) pauses.add(request.target);
    post({ id, kind: 'result', result: null });
    return;
  }
  const controller = new AbortController();
  controllers.set(id, controller);
  queue = queue.then(async () => {
    try {
      post({ id, kind: 'result', result: await handle(id, request, controller.signal) });
    } catch (error) {
      post({ id, kind: 'error', error: classifyError(error, request.type, controller.signal.aborted) });
    } finally {
      controllers.delete(id);
      pauses.delete(id);
    }
  });
};
