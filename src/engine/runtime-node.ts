// onnxruntime-node behind the Runtime interface: CPU execution for tests and the CLI.
// "Device" tensors are ORT's own CPU tensors, so upload/download only wrap and unwrap. Its Linux
// build also carries onnxruntime's WebGPU EP on native Dawn (Vulkan): the kernels onnxruntime-web
// runs in the browser, reachable where a Vulkan driver is, e.g. Mesa's lavapipe, whose shader-f16
// SwiftShader lacks. There inputs and outputs still cross to the host every run, which suits checks
// of the EP's numbers (webgpu-node.test.ts), not speed.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { Graph } from '../onnx/index.ts';
import { ortConfigEntries, pickFeeds, type DeviceTensor, type HostTensor, type Runtime, type Session, type SessionOptions, type Tensor, type TensorData } from './runtime.ts';

function toOrt(t: Tensor): ort.Tensor {
  if (t.kind === 'device') return t.handle as ort.Tensor;
  return new ort.Tensor(t.type, t.data, t.dims);
}

function wrap(t: ort.Tensor): DeviceTensor {
  return { kind: 'device', type: t.type as DeviceTensor['type'], dims: t.dims, handle: t };
}

function unwrap(t: ort.Tensor): HostTensor {
  return { kind: 'host', type: t.type as HostTensor['type'], dims: t.dims, data: t.data as HostTensor['data'] };
}

class NodeSession implements Session {
  constructor(private readonly session: ort.InferenceSession) {}

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  async run(feeds: Readonly<Record<string, Tensor>>, toHost: readonly string[] = [], into: Readonly<Record<string, DeviceTensor>> = {}): Promise<Record<string, Tensor>> {
    const inputs = pickFeeds(this.session.inputNames, feeds, toOrt);
    // A pre-allocated output wraps the tensor's own memory, as an input does: fed both ways, ORT sees one buffer.
    const results = Object.keys(into).length
      ? await this.session.run(inputs, Object.fromEntries(this.session.outputNames.map((name) => [name, into[name] ? toOrt(into[name]) : null])))
      : await this.session.run(inputs);
    const out: Record<string, Tensor> = {};
    for (const [name, value] of Object.entries(results)) {
      out[name] = into[name] ?? (toHost.includes(name) ? unwrap(value as ort.Tensor) : wrap(value as ort.Tensor));
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

export interface NodeRuntimeSettings {
  /**
   * ORT's CPU memory arena keeps every block a run allocated for later runs. Our graphs take
   * weights and KV caches as inputs and return fresh outputs, so the arena only ever grows: at
   * Qwen3-0.6B shape a 1 × 256 train step went from 6.6 to 8.0 GB over a few steps with it, and
   * stayed flat (and ran faster) without it (bench/RESULTS.md "train memory"). Off unless a
   * measurement asks for it.
   */
  cpuMemArena?: boolean;
  /** The execution provider: 'cpu' (the default), or 'webgpu' for onnxruntime's WebGPU EP on Dawn (nodeWebGpuRefusal says whether it can run). */
  executionProvider?: 'cpu' | 'webgpu';
}

/** onnxruntime-node with these settings (nodeRuntime: the defaults). */
export function createNodeRuntime(settings: NodeRuntimeSettings = {}): Runtime {
  const cpuMemArena = settings.cpuMemArena ?? false;
  const ep = settings.executionProvider ?? 'cpu';
  return {
    name: `onnxruntime-node (${ep}${cpuMemArena ? ', memory arena' : ''})`,

    async createSession(model: Uint8Array, options: SessionOptions = {}): Promise<Session> {
      const session = await ort.InferenceSession.create(model, {
        executionProviders: [ep],
        graphOptimizationLevel: options.optimization ?? 'all',
        enableCpuMemArena: cpuMemArena,
        ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
        ...(options.verbose ? { logSeverityLevel: 0, logVerbosityLevel: 0 } : {}),
        ...ortConfigEntries(options),
      });
      return new NodeSession(session);
    },

    upload: async (tensor) => wrap(toOrt(tensor)),
    async write(tensor, data) {
      const into = (tensor.handle as ort.Tensor).data as TensorData;
      if (into.length !== data.length) throw new Error(`write: ${tensor.type} [${tensor.dims.join(', ')}] holds ${into.length} elements, got ${data.length}`);
      into.set(data as never);
    },
    download: async (tensor) => (tensor.kind === 'host' ? tensor : unwrap(tensor.handle as ort.Tensor)),
    release(tensor) {
      if (tensor.kind === 'device') (tensor.handle as ort.Tensor).dispose();
    },
  };
}

export const nodeRuntime: Runtime = createNodeRuntime();

/**
 * Why onnxruntime-node's WebGPU EP cannot run float16 work on this machine (null: it can): a
 * float16 [2, 2] MatMul on it, checked to the bit. In a child process, as a Vulkan driver that
 * fails may take its process down; ~1 s. Dawn finds the drivers the Vulkan loader lists.
 */
export function nodeWebGpuRefusal(): string | null {
  const g = new Graph('webgpu-f16-probe');
  const a = g.input('a', 'float16', [2, 2]);
  g.output(g.matMul(a, a), 'y');
  // [[1, 2], [3, 4]]² = [[7, 10], [15, 22]], as float16 bits.
  // The child imports this package's onnxruntime-node, whatever its working directory.
  const ortUrl = pathToFileURL(createRequire(import.meta.url).resolve('onnxruntime-node')).href;
  const script = `import * as ort from '${ortUrl}';
const s = await ort.InferenceSession.create(Buffer.from('${Buffer.from(g.toBytes()).toString('base64')}', 'base64'), { executionProviders: ['webgpu'] });
const { y } = await s.run({ a: new ort.Tensor('float16', Uint16Array.from([0x3c00, 0x4000, 0x4200, 0x4400]), [2, 2]) });
console.log(JSON.stringify([...y.data]));`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  if (child.status === 0 && child.stdout.trim() === JSON.stringify([0x4700, 0x4900, 0x4b80, 0x4d80])) return null;
  if (child.status === 0) return `onnxruntime's WebGPU EP gave ${child.stdout.trim()} for a float16 MatMul, not [[7, 10], [15, 22]]`;
  // ORT's own message, without its colour codes and source position: "Failed to get a WebGPU adapter: …", "… requires f16 but the device does not support it".
  const lines = (child.stderr ?? '').replace(/\x1b\[[0-9;]*m/g, '').split('\n');
  const said = /(Failed to get a WebGPU adapter.*|Program .* requires f16.*)/.exec(lines.find((line) => /Failed to get a WebGPU adapter|requires f16/.test(line)) ?? '')?.[1];
  return `onnxruntime's WebGPU EP: ${(said ?? lines.find((line) => /Error/.test(line)) ?? child.error?.message ?? `exit ${child.status}`).trim().slice(0, 240)}`;
}
