// onnxruntime-node behind the Runtime interface: CPU execution for tests and the CLI.
// "Device" tensors are ORT's own CPU tensors, so upload/download only wrap and unwrap.
import * as ort from 'onnxruntime-node';
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
}

/** onnxruntime-node with these settings (nodeRuntime: the defaults). */
export function createNodeRuntime(settings: NodeRuntimeSettings = {}): Runtime {
  const cpuMemArena = settings.cpuMemArena ?? false;
  return {
    name: `onnxruntime-node (cpu${cpuMemArena ? ', memory arena' : ''})`,

    async createSession(model: Uint8Array, options: SessionOptions = {}): Promise<Session> {
      const session = await ort.InferenceSession.create(model, {
        executionProviders: ['cpu'],
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
