// Device graphs that bring LoRA matrices into the decoder's layout (layout.ts: matrices
// transposed, weights float16 or float32) without a round trip through the host: the merge of
// one pair into its projection weight, and the transpose of a trainer's matrices into the
// decoder's LoRA inputs.
import { Graph } from '../../onnx/index.ts';
import type { Qwen3Config } from '../config.ts';
import { adapterPairsByWeight } from '../merge.ts';
import type { LoraAdapter, LoraPair } from '../peft.ts';
import { loraSites, qwen3TensorShapes, type LoraTarget } from '../tensors.ts';
import { asFloat32 } from './forward.ts';
import type { WeightDtype } from './layout.ts';
import * as names from './names.ts';

export const MERGE_WEIGHT = 'weight'; // [in, out] a projection as the decoder reads it (names.transposed), float16 or float32
export const MERGE_A = 'lora_a'; // [r, in] PEFT's layout
export const MERGE_B = 'lora_b'; // [out, r]
export const MERGE_SCALE = 'lora_scale'; // [] alpha / r
export const MERGED = 'merged'; // [in, out] in the weight's dtype

export interface MergeShape {
  inFeatures: number;
  outFeatures: number;
  r: number;
  dtype: WeightDtype;
}

/** Sites of one shape share a merge graph. */
export const mergeShapeKey = (s: MergeShape): string => `${s.dtype} ${s.inFeatures}x${s.outFeatures} r${s.r}`;

export interface MergeSite {
  /** The projection's HF name, and its decoder input (names.transposed). */
  weight: string;
  input: string;
  pair: LoraPair;
  shape: MergeShape;
}

/** `adapter`'s pairs as merges into weights of `dtype`, each checked against the model before any is merged. */
export function mergeSites(c: Qwen3Config, adapter: LoraAdapter, dtype: WeightDtype): MergeSite[] {
  const { r } = adapter.config;
  const weights = qwen3TensorShapes(c);
  return [...adapterPairsByWeight(adapter, c)].map(([weight, { pair, shape: [out, inp] }]) => {
    if (!weights.has(weight)) throw new Error(`mergeSites: the adapter has a pair for ${weight}, which this model (${c.numLayers} layers) does not have`);
    for (const [matrix, values, dims] of [['A', pair.a, [r, inp]], ['B', pair.b, [out, r]]] as const) {
      if (values.length !== dims[0] * dims[1]) throw new Error(`mergeSites: ${weight} lora_${matrix} has ${values.length} values, [${dims.join(', ')}] (r ${r}) needs ${dims[0] * dims[1]}`);
    }
    return { weight, input: names.transposed(weight), pair, shape: { inFeatures: inp, outFeatures: out, r, dtype } };
  });
}

/**
 * The decoder's LoRA inputs of rank `r` on `targets`, site by site: names.transposed(loraA) [in, r]
 * and names.transposed(loraB) [r, out], each with `matrix`, the name of the same matrix in PEFT's
 * layout as the trainer keeps it (names.loraA / loraB: [r, in], [out, r]).
 */
export function* decoderLoraInputs(c: Qwen3Config, targets: readonly LoraTarget[], r: number): Generator<{ input: string; dims: [number, number]; matrix: string }> {
  for (const { layer, target, outFeatures, inFeatures } of loraSites(c, targets)) {
    const a = names.loraA(layer, target);
    const b = names.loraB(layer, target);
    yield { input: names.transposed(a), dims: [inFeatures, r], matrix: a };
    yield { input: names.transposed(b), dims: [r, outFeatures], matrix: b };
  }
}

/**
 * Wᵀ' = Wᵀ + (s·Aᵀ)·Bᵀ, the transpose of W + s·B·A (merge.ts mergeLora): the low-rank product is
 * made and added in float32, a float16 weight widened first and rounded once at the end, so the
 * merge costs float16 one rounding, as loading host-merged weights would.
 */
export function buildMerge(shape: MergeShape): Uint8Array {
  const { inFeatures: inp, outFeatures: out, r, dtype } = shape;
  const g = new Graph('lora-merge');
  const w = g.input(MERGE_WEIGHT, dtype, [inp, out]);
  const a = g.input(MERGE_A, 'float32', [r, inp]);
  const b = g.input(MERGE_B, 'float32', [out, r]);
  const scale = g.input(MERGE_SCALE, 'float32', []);
  // The scale goes on Aᵀ [in, r], not on the product: one pass fewer over an [in, out] matrix.
  const delta = g.matMul(g.mul(g.transpose(a), scale), g.transpose(b)); // [in, r] · [r, out] → [in, out]
  const merged = g.add(asFloat32(g, w), delta); // [in, out] float32
  g.output(dtype === 'float16' ? g.cast(merged, 'float16') : merged, MERGED);
  return g.toBytes();
}

/**
 * The decoder's LoRA inputs (decoderLoraInputs) from a trainer's matrices of rank `r` on
 * `targets`, all in one run. The graph's inputs carry the trainer's names, so its parameters feed
 * it as they are.
 */
export function buildLoraTranspose(c: Qwen3Config, targets: readonly LoraTarget[], r: number): Uint8Array {
  const g = new Graph('lora-transpose');
  for (const { input, dims: [rows, cols], matrix } of decoderLoraInputs(c, targets, r)) {
    g.output(g.transpose(g.input(matrix, 'float32', [cols, rows])), input);
  }
  return g.toBytes();
}
