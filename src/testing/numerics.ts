// How far one vector of model outputs is from another, the measure every logits check uses.
import type { Qwen3Config } from '../model/config.ts';
import { roundTo } from '../model/dtype.ts';
import { qwen3TensorShapes } from '../model/tensors.ts';

/** max |got − want| / max |want|: an error relative to the largest value, so tiny logits don't inflate it. */
export function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`relativeError: ${got.length} values vs ${want.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return diff / scale;
}

/** The float32 weights a float16 layout holds: each matrix rounded to float16, each norm vector as it is (layout.ts). */
export function float16Layout(weights: ReadonlyMap<string, Float32Array>): Map<string, Float32Array> {
  return new Map([...weights].map(([name, data]) => [name, name.endsWith('norm.weight') ? data : roundTo('F16', data)]));
}

/** Elements of a config's weight matrices and of its norm vectors: a float16 layout holds them in 2 and 4 bytes. */
export function weightElements(config: Qwen3Config): { matrices: number; norms: number } {
  const count = (vectors: boolean) => [...qwen3TensorShapes(config).values()].filter((dims) => (dims.length === 1) === vectors).reduce((n, dims) => n + dims.reduce((a, d) => a * d, 1), 0);
  return { matrices: count(false), norms: count(true) };
}
