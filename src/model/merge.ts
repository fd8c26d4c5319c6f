// Merging a LoRA adapter into its base: W' = W + s·B·A per targeted projection ([out, in] +
// [out, r]·[r, in]), one tensor (or one block of its rows) at a time so a merged export never holds
// the whole model.
import type { Qwen3Config } from './config.ts';
import type { TensorRows } from './gguf.ts';
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

/**
 * W + scale·B·A as a new array (float64 sums, one float32 rounding per element); with `rows`,
 * `weight` holds those rows of W only and so does the result (each row is merged on its own).
 */
export function mergeLora(weight: Float32Array, pair: LoraPair, [out, inp]: [number, number], r: number, scale: number, rows = { begin: 0, end: out }): Float32Array {
  const { begin, end } = rows;
  if (!(0 <= begin && begin <= end && end <= out) || weight.length !== (end - begin) * inp) {
    throw new Error(`merge: weight has ${weight.length} values, [${out}, ${inp}] expected${begin === 0 && end === out ? '' : ` in rows ${begin} to ${end}`}`);
  }
  const merged = new Float32Array(weight.length);
  const row = new Float64Array(inp);
  for (let o = begin; o < end; o++) {
    const local = o - begin;
    row.fill(0);
    for (let k = 0; k < r; k++) {
      const b = pair.b[o * r + k]!;
      if (b === 0) continue;
      const a = pair.a.subarray(k * inp, (k + 1) * inp);
      for (let i = 0; i < inp; i++) row[i]! += b * a[i]!;
    }
    for (let i = 0; i < inp; i++) merged[local * inp + i] = weight[local * inp + i]! + scale * row[i]!;
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

/** mergedReader by blocks of rows: rows [begin, end) of each weight, targeted projections merged. */
export function mergedRows(rows: TensorRows, adapter: LoraAdapter | null, config: Qwen3Config): TensorRows {
  if (!adapter) return rows;
  const pairs = adapterPairsByWeight(adapter, config);
  const scale = loraScale(adapter.config);
  return async (name, begin, end) => {
    const weight = await rows(name, begin, end);
    const entry = pairs.get(name);
    return entry ? mergeLora(weight, entry.pair, entry.shape, adapter.config.r, scale, { begin, end }) : weight;
  };
}
