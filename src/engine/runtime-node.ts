// onnxruntime-node behind the Runtime interface: CPU execution for tests and the CLI.
// "Device" tensors are ORT's own CPU tensors, so upload/download only wrap and unwrap.
import * as ort from 'onnxruntime-node';
import { pickFeeds, type DeviceTensor, type HostTensor, type Runtime, type Session, type SessionOptions, type Tensor } from './runtime.ts';

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

  async run(feeds: Readonly<Record<string, Tensor>>, toHost: readonly string[] = []): Promise<Record<string, Tensor>> {
    const results = await this.session.run(pickFeeds(this.session.inputNames, feeds, toOrt));
    const out: Record<string, Tensor> = {};
    for (const [name, value] of Object.entries(results)) {
      out[name] = toHost.includes(name) ? unwrap(value as ort.Tensor) : wrap(value as ort.Tensor);
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

export const nodeRuntime: Runtime = {
  name: 'onnxruntime-node (cpu)',

  async createSession(model: Uint8Array, options: SessionOptions = {}): Promise<Session> {
    const session = await ort.InferenceSession.create(model, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: options.optimization ?? 'all',
      ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
      ...(options.verbose ? { logSeverityLevel: 0, logVerbosityLevel: 0 } : {}),
    });
    return new NodeSession(session);
  },

  async upload(tensor: HostTensor): Promise<DeviceTensor> {
    return wrap(toOrt(tensor));
  },

  async download(tensor: Tensor): Promise<HostTensor> {
    return tensor.kind === 'host' ? tensor : unwrap(tensor.handle as ort.Tensor);
  },

  release(tensor: Tensor): void {
    if (tensor.kind === 'device') (tensor.handle as ort.Tensor).dispose();
  },
};
