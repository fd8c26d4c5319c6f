// Where a session's weights come from: by HF name as float32 (a Map), as stored in a checkpoint
// (TensorSource, turned into the layout's graph inputs on the way: layout.ts tensorInputs), or
// already as those inputs (InputSource: a q4 copy kept in the browser, q4-copy.ts). Each is read
// one tensor at a time, in file order, each once, so the host never holds the model.
import type { Qwen3Config } from '../model/config.ts';
import type { StoredTensor } from '../model/dtype.ts';
import { tensorInputs, type WeightData, type WeightLayout } from '../model/qwen3/layout.ts';

/** A graph input made on the host from the weights: its name, dims and data. */
export type WeightInput = [input: string, dims: number[], data: WeightData];

/** Weights by HF name: float32, or as stored (safetensors' readStored), widened, turned and checked in one pass. */
export interface TensorSource {
  read(name: string): Promise<Float32Array | StoredTensor>;
}

/** Weights as the layout's graph inputs, those of checkpoint tensor `name` (HF name) at a time. */
export interface InputSource {
  inputs(name: string): AsyncIterable<WeightInput>;
}

export type Weights = ReadonlyMap<string, Float32Array> | TensorSource | InputSource;

/** `weights` as graph inputs of `layout`. */
export function weightInputs(c: Qwen3Config, layout: WeightLayout, weights: Weights): InputSource {
  if ('inputs' in weights) return weights;
  const read =
    'read' in weights
      ? (name: string) => weights.read(name)
      : async (name: string) => {
          const data = weights.get(name);
          if (!data) throw new Error(`Qwen3Session.load: weight ${name} is missing`);
          return data;
        };
  return {
    async *inputs(name) {
      yield* tensorInputs(c, layout, name, await read(name));
    },
  };
}
