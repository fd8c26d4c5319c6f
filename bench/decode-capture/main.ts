// The decode-capture bench page: our fused decode step three ways on one seeded model, each after
// the same prefill by Qwen3Session, greedy, logits compared with the session's own decode:
//   session   Qwen3Session.forward: token id and seqlens_k uploaded by ORT each step (host tensors),
//             ORT allocating the logits;
//   bound     the same decode graph in a session of its own with every input and output a GPU
//             buffer of ours, written with writeBuffer before each run (the session's weights and
//             KV cache, which the step writes in place);
//   bound, total on host   as bound, but total_sequence_length a host tensor (GroupQueryAttention
//             reads it on the CPU, so a GPU one is read back every run);
//   captured  as bound, with ORT's enableGraphCapture: the first run records the GPU commands and
//             later runs replay them.
// onnxruntime-web (1.31) unregisters each bound GPUBuffer after every run and frees its handle when
// the count reaches 0, so a replay binds freed handles (createBindGroup: "Required member is
// undefined"). Its own output buffers are registered with count NaN and never freed; `captured`
// pins ours the same way through the symbol ORT keeps on a buffer (read off one of its outputs) —
// reaching into ORT's internals, which is why this is a bench and not the session's path.
import * as ort from 'onnxruntime-web/webgpu';
import { createWebRuntime } from '../../src/engine/runtime-web.ts';
import { argmax } from '../../src/engine/sampling.ts';
import { Qwen3Session } from '../../src/engine/session.ts';
import { blobSource } from '../../src/model/byte-source.ts';
import { parseQwen3Config } from '../../src/model/config.ts';
import * as names from '../../src/model/qwen3/names.ts';
import { SafetensorsFile } from '../../src/model/safetensors.ts';
import { qwen3TensorShapes } from '../../src/model/tensors.ts';
import { Graph } from '../../src/onnx/index.ts';

export type Way = 'session' | 'bound' | 'bound, total on host' | 'captured';

export interface WayResult {
  way: Way;
  tokens: number[];
  msPerToken: number;
  submitsPerToken: number;
  /** Largest |Δ logit| against the session's decode over all steps (0 for the session itself). */
  maxLogitDiff: number;
}

declare global {
  interface Window {
    runDecodeCapture(folder: string, steps: number): Promise<WayResult[] | { error: string }>;
  }
}

const runtime = createWebRuntime();
// GPUBufferUsage.STORAGE | COPY_SRC | COPY_DST, and MAP_READ | COPY_DST (spec values).
const STORAGE = 0x80 | 0x04 | 0x08;
const READ = 0x01 | 0x08;
/** A prompt of six ids (the chat template's first ones and three words' worth). */
const PROMPT = [151644, 872, 198, 1000, 2000, 3000];

async function load(folder: string): Promise<Qwen3Session> {
  const gpu = await runtime.device();
  const fetched = async (file: string) => {
    const response = await fetch(`${folder}/${file}`);
    if (!response.ok) throw new Error(`${folder}/${file}: HTTP ${response.status}`);
    return response;
  };
  const config = parseQwen3Config(await (await fetched('config.json')).json(), 'config.json');
  const file = await SafetensorsFile.open(blobSource(await (await fetched('model.safetensors')).blob(), 'model.safetensors'));
  const weights = new Map<string, Float32Array>();
  for (const name of qwen3TensorShapes(config).keys()) weights.set(name, await file.read(name));
  const maxBindingBytes = Math.min(gpu.limits.maxBufferSize, gpu.limits.maxStorageBufferBindingSize);
  return Qwen3Session.load(runtime, config, weights, { maxBindingBytes, weightDtype: 'float32', decoder: 'fused' });
}

/** The symbol onnxruntime-web keeps its registration under on a GPUBuffer, read off one of its outputs. */
async function registrationKey(): Promise<symbol> {
  const g = new Graph('registration-key');
  g.output(g.identity(g.input('x', 'float32', [4])), 'y');
  const session = await ort.InferenceSession.create(g.toBytes(), { executionProviders: ['webgpu'], preferredOutputLocation: 'gpu-buffer' });
  const y = (await session.run({ x: new ort.Tensor('float32', new Float32Array(4), [4]) })).y!;
  const key = Object.getOwnPropertySymbols(y.gpuBuffer as object)[0];
  if (!key) throw new Error('onnxruntime-web keeps no symbol on its output buffers (its registration changed)');
  return key;
}

/** Makes every registration ORT stores on `buffer` count NaN, as its own outputs' do: never freed. */
function pin(buffer: object, key: symbol): void {
  let stored: [number, number] | undefined;
  Object.defineProperty(buffer, key, { configurable: true, get: () => stored, set: (v: [number, number]) => ((v[1] = Number.NaN), (stored = v)) });
}

window.runDecodeCapture = async (folder, steps) => {
  try {
    const gpu = await runtime.device();
    let submits = 0;
    const submit = gpu.queue.submit.bind(gpu.queue);
    gpu.queue.submit = (buffers: Iterable<GPUCommandBuffer>) => ((submits += 1), submit(buffers));
    const s = await load(folder);
    const { vocabSize, numLayers } = s.config;
    // The session's own buffers, fed to the other ways as they are (private fields, read here only).
    const internals = s as unknown as { device: Map<string, { handle: ort.Tensor }>; cache: { reset(): void; buffers: { cos: { handle: ort.Tensor }; sin: { handle: ort.Tensor }; keys: { handle: ort.Tensor }[]; values: { handle: ort.Tensor }[] } } };
    const key = await registrationKey();
    const reference: Float32Array[] = [];
    const results: WayResult[] = [];
    for (const way of ['session', 'bound', 'bound, total on host', 'captured'] as const) {
      internals.cache.reset();
      let logits = await s.forward(PROMPT);
      let step: (token: number, filled: number) => Promise<Float32Array>;
      if (way === 'session') step = (token) => s.forward([token]);
      else {
        const session = await ort.InferenceSession.create(s.decoderBytes('base', true), { executionProviders: ['webgpu'], preferredOutputLocation: 'gpu-buffer', enableGraphCapture: way === 'captured' });
        const buffer = (bytes: number) => gpu.createBuffer({ size: Math.ceil(bytes / 16) * 16, usage: STORAGE });
        const [ids, seqlens, total, out] = [buffer(8), buffer(4), buffer(4), buffer(vocabSize * 4)];
        const staging = gpu.createBuffer({ size: vocabSize * 4, usage: READ });
        const cache = internals.cache.buffers;
        const hostTotal = way === 'bound, total on host';
        const feeds: Record<string, ort.Tensor> = {
          [names.INPUT_IDS]: ort.Tensor.fromGpuBuffer(ids, { dataType: 'int64', dims: [1, 1] }),
          [names.SEQLENS_K]: ort.Tensor.fromGpuBuffer(seqlens, { dataType: 'int32', dims: [1] }),
          [names.TOTAL_SEQUENCE_LENGTH]: ort.Tensor.fromGpuBuffer(total, { dataType: 'int32', dims: [] }),
          [names.ROPE_COS_CACHE]: cache.cos.handle,
          [names.ROPE_SIN_CACHE]: cache.sin.handle,
        };
        for (const name of session.inputNames) if (internals.device.has(name)) feeds[name] = internals.device.get(name)!.handle;
        const fetches: Record<string, ort.Tensor> = { [names.LOGITS]: ort.Tensor.fromGpuBuffer(out, { dataType: 'float32', dims: [1, vocabSize] }) };
        for (let l = 0; l < numLayers; l++) {
          feeds[names.pastKey(l)] = fetches[names.presentKey(l)] = cache.keys[l]!.handle;
          feeds[names.pastValue(l)] = fetches[names.presentValue(l)] = cache.values[l]!.handle;
        }
        const missing = session.inputNames.filter((name) => !feeds[name]);
        if (missing.length) throw new Error(`no feed for ${missing.join(', ')}`);
        if (way === 'captured') for (const t of new Set([...Object.values(feeds), ...Object.values(fetches)])) pin(t.gpuBuffer as object, key);
        step = async (token, filled) => {
          gpu.queue.writeBuffer(ids, 0, new BigInt64Array([BigInt(token)]));
          gpu.queue.writeBuffer(seqlens, 0, new Int32Array([filled - 1]));
          if (hostTotal) feeds[names.TOTAL_SEQUENCE_LENGTH] = new ort.Tensor('int32', new Int32Array([filled]), []);
          else gpu.queue.writeBuffer(total, 0, new Int32Array([filled]));
          await session.run(feeds, fetches);
          const encoder = gpu.createCommandEncoder();
          encoder.copyBufferToBuffer(out, 0, staging, 0, vocabSize * 4);
          gpu.queue.submit([encoder.finish()]);
          await staging.mapAsync(0x01);
          const read = new Float32Array(staging.getMappedRange().slice(0));
          staging.unmap();
          return read;
        };
      }
      const tokens: number[] = [];
      let maxLogitDiff = 0;
      const [start, before] = [performance.now(), submits];
      for (let i = 0; i < steps; i++) {
        const token = argmax(logits);
        tokens.push(token);
        logits = await step(token, PROMPT.length + i + 1);
        if (way === 'session') reference.push(logits);
        else for (let j = 0; j < vocabSize; j++) maxLogitDiff = Math.max(maxLogitDiff, Math.abs(logits[j]! - reference[i]![j]!));
      }
      results.push({ way, tokens, msPerToken: (performance.now() - start) / steps, submitsPerToken: (submits - before) / steps, maxLogitDiff });
    }
    return results;
  } catch (error) {
    return { error: String((error as Error).stack ?? error) };
  }
};
