// Merging a LoRA adapter into its base: W' = W + s·B·A per targeted projection ([out, in] +
// [out, r]·[r, in]), one tensor at a time so a merged export never holds the whole model.
import type { Qwen3Config } from './config.ts';
import { loraScale, type LoraAdapter, type LoraPair } from './peft.ts';
import { projectionPath, projectionShape, type LoraTarget } from './tensors.ts';

/** The adapter's pairs by the HF name of the weight they modify, with that weight's [out, in]. */
export function adapterPairsByWeight(adapter: LoraAdapter, config: Qwen3Config): Map<string, { pair: LoraPair; shape: [number, number] }> {
  const byWeight = new Map<string, { pair: LoraPair; shape: [number, number] }>();
  adapter.layers.forEach((pairs, layer) => {
    for (const [target, pair] of Object.entries(pairs) as [LoraTarget, LoraPair][]) {
      byWeight.set(`${projectionPath(layer, target)}.weight`, { pair, shape: projectionShape(config, target) });
    }
  });
  return byWeight;
}

/** W + scale·B·A as a new array (float64 sums, one float32 rounding per element). */
export function mergeLora(weight: Float32Array, pair: LoraPair, [out, inp]: [number, number], r: number, scale: number): Float32Array {
  if (weight.length !== out * inp) throw new Error(`merge: weight has ${weight.length} values, [${out}, ${inp}] expected`);
  const merged = new Float32Array(weight.length);
  const row = new Float64Array(inp);
  for (let o = 0; o < out; o++) {
    row.fill(0);
    for (let k = 0; k < r; k++) {
      const b = pair.b[o * r + k]!;
      if (b === 0) continue;
      const a = pair.a.subarray(k * inp, (k + 1) * inp);
      for (let i = 0; i < inp; i++) row[i]! += b * a[i]!;
    }
    for (let i = 0; i < inp; i++) merged[o * inp + i] = weight[o * inp + i]! + scale * row[i]!;
  }
  return merged;
}

/** A reader of merged weights: targeted projections come back merged, the rest unchanged. */
export function mergedReader(
  read: (name: string) => Promise<Float32Array>,
  adapter: LoraAdapter | null,
  config: Qwen3Config,
): (name: string) => Promise<Float32Array> {
  if (!adapter) return read;
  const pairs = adapterPairsByWeight(adapter, config);
  const scale = loraScale(adapter.config);
  return async (name) => {
    const weight = await read(name);
    const entry = pairs.get(name);
    return entry ? mergeLora(weight, entry.pair, entry.shape, adapter.config.r, scale) : weight;
  };
}
