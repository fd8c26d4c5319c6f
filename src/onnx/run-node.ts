// Run a built Graph on onnxruntime-node (CPU): for tests and the headless CLI only.
// The engine's backend-agnostic runtime lives in src/engine.
import * as ort from 'onnxruntime-node';
import type { DType, TensorData } from './graph.ts';
import type { Graph } from './ops.ts';

export interface HostTensor {
  data: TensorData;
  dims: readonly number[];
}

export interface NodeModel {
  run(feeds: Record<string, HostTensor>, fetch?: readonly string[]): Promise<Record<string, HostTensor>>;
  release(): Promise<void>;
}

/**
 * `optimization` 'basic' skips ORT's fusions into float32-only contrib kernels (x·sigmoid(x) →
 * QuickGelu), which float64 test graphs cannot run.
 */
export async function loadOnNode(g: Graph, optimization: 'basic' | 'all' = 'all'): Promise<NodeModel> {
  const session = await ort.InferenceSession.create(g.toBytes(), { graphOptimizationLevel: optimization });
  const dtypes = new Map<string, DType>(g.inputs.map((v) => [v.name, v.dtype]));
  return {
    async run(feeds, fetch) {
      const tensors: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) {
        const dtype = dtypes.get(name);
        if (!dtype) throw new Error(`run-node.ts: graph ${g.name} has no input '${name}' (inputs: ${[...dtypes.keys()].join(', ')})`);
        tensors[name] = new ort.Tensor(dtype, t.data as ort.Tensor.DataType, [...t.dims]);
      }
      const out = fetch ? await session.run(tensors, [...fetch]) : await session.run(tensors);
      return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, { data: t.data as TensorData, dims: t.dims }]));
    },
    release: () => session.release(),
  };
}
