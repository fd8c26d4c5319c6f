// How a Qwen3 checkpoint becomes graph inputs on a device: the weights' element type, and the
// vocabulary tensors (embedding, LM head: [V, D], 622 MB fp32 at V = 151,936, D = 1,024) cut
// into row chunks that each fit one storage-buffer binding (design.md "Models on the hub").
import type { Qwen3Config } from '../config.ts';
import { convertInto, firstNonFinite, nonFiniteError, sliceStored, type StoredTensor, type StoredValues } from '../dtype.ts';
import { qwen3TensorShapes } from '../tensors.ts';
import * as names from './names.ts';

export type WeightDtype = 'float32' | 'float16';

export interface WeightLayout {
  dtype: WeightDtype;
  /** Rows [start, start + rows) of the vocabulary in each chunk; one chunk when unsplit. */
  chunks: readonly { start: number; rows: number }[];
}

export interface LayoutOptions {
  /** The largest buffer the device binds (min of maxStorageBufferBindingSize and maxBufferSize); default: no limit. */
  maxBindingBytes?: number;
  /** 'float16' halves weight memory; the graph casts each weight to float32 where it is used. */
  weightDtype?: WeightDtype;
}

export const EMBED = 'model.embed_tokens.weight';
export const LM_HEAD = 'lm_head.weight';
const vocabTensors = new Set([EMBED, LM_HEAD]);

/** Graph input name of chunk `k` of a vocabulary tensor; the HF name itself when unsplit. */
export const chunkName = (name: string, k: number, layout: WeightLayout): string => (layout.chunks.length === 1 ? name : `${name}#${k}`);

const bytesOf = (dims: readonly number[], bytes: number) => dims.reduce((a, d) => a * d, bytes);

/**
 * Why no layout fits bindings of `limit` bytes (null: one does): the first tensor over it that
 * cannot be split. Sized in float32 whatever the stored type: the in-graph float32 cast (and
 * transpose) of a weight is a buffer the device binds too. A vocabulary row is as large as
 * model.norm, checked here, so a layout that passes can always be cut into chunks.
 */
export function layoutRefusal(c: Qwen3Config, limit: number): string | null {
  for (const [name, dims] of qwen3TensorShapes(c)) {
    if (!vocabTensors.has(name) && bytesOf(dims, 4) > limit) {
      return `${name} [${dims.join(', ')}] needs ${bytesOf(dims, 4)} bytes in float32, over the binding limit of ${limit} bytes, and only vocabulary tensors can be split`;
    }
  }
  return null;
}

export function weightLayout(c: Qwen3Config, options: LayoutOptions = {}): WeightLayout {
  const dtype = options.weightDtype ?? 'float32';
  const limit = options.maxBindingBytes ?? Infinity;
  const refusal = layoutRefusal(c, limit);
  if (refusal) throw new Error(`weightLayout: ${refusal}`);
  const rowBytes = c.hiddenSize * 4;
  const count = Math.ceil(c.vocabSize / Math.min(c.vocabSize, Math.floor(limit / rowBytes)));
  const rows = Math.ceil(c.vocabSize / count); // balanced chunks: the last is at most `count` rows shorter
  const chunks = Array.from({ length: count }, (_, k) => ({ start: k * rows, rows: Math.min(rows, c.vocabSize - k * rows) }));
  return { dtype, chunks };
}

/** Every graph input that holds a weight, with its dims: the checkpoint's tensors, vocabulary ones by chunk. */
export function layoutShapes(c: Qwen3Config, layout: WeightLayout): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (const [name, dims] of qwen3TensorShapes(c)) {
    if (!vocabTensors.has(name)) shapes.set(name, dims);
    else layout.chunks.forEach(({ rows }, k) => shapes.set(chunkName(name, k, layout), [rows, c.hiddenSize]));
  }
  return shapes;
}

/** float32 data, or float16 bits (Uint16Array) under a float16 layout. */
export type WeightData = Float32Array | Uint16Array;

/**
 * Whether the decoder reads weight `name` (HF name) transposed (names.transposed): every
 * matrix a MatMul multiplies by — the projections, the LM head, and the embedding when it is
 * the tied LM head (its Gather then reads columns). Norm vectors and an untied embedding stay.
 */
export const readsTransposed = (c: Qwen3Config, name: string): boolean =>
  name.endsWith('_proj.weight') || name === LM_HEAD || (name === EMBED && c.tieWordEmbeddings);

/** [rows, cols] → [cols, rows] in float32. */
export function transposeMatrix(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  convertInto(out, { dtype: 'F32', data }, rows, cols, true);
  return out;
}

/**
 * One checkpoint tensor (HF name) as the decoder's weight inputs: a vocabulary tensor cut into
 * the layout's chunks, each matrix the decoder reads transposed turned on the host, once, and
 * renamed (names.transposed), float16 rounded to nearest even. ORT folds the Transpose of an
 * initializer at load, but weights here are inputs (swappable adapters, shared with training): a
 * Transpose in the graph would copy every matrix — the LM head is 311 MB at D = 512 — at every
 * step. A tensor as stored (a file's bf16/f16/f32) is widened, turned and checked for NaN and
 * ±Infinity in one pass (dtype.ts convertInto; at Qwen3-0.6B three passes took ~8 of the 13–16 s
 * of a CLI call); a Float32Array is taken as already checked. Inputs are made lazily, each in one
 * buffer of its own (a float32 input the layout leaves as stored is a view of the tensor), so a
 * loader that uploads each before asking for the next holds the tensor and one chunk.
 */
export function* tensorInputs(
  c: Qwen3Config,
  layout: WeightLayout,
  name: string,
  tensor: Float32Array | StoredTensor,
): Generator<[string, number[], WeightData]> {
  const dims = qwen3TensorShapes(c).get(name);
  if (!dims) throw new Error(`tensorInputs: ${name} is not a weight of this Qwen3 config`);
  const stored: StoredValues = tensor instanceof Float32Array ? { dtype: 'F32', data: tensor } : tensor;
  if (stored.data.length !== bytesOf(dims, 1)) throw new Error(`tensorInputs: ${name} has ${stored.data.length} elements, [${dims.join(', ')}] needs ${bytesOf(dims, 1)}`);
  const checked = tensor instanceof Float32Array ? null : tensor;
  const half = layout.dtype === 'float16';
  const transpose = readsTransposed(c, name);
  const cols = dims.at(-1)!;
  const pieces = vocabTensors.has(name)
    ? layout.chunks.map(({ start, rows }, k) => ({ input: chunkName(name, k, layout), start, dims: [rows, cols] }))
    : [{ input: name, start: 0, dims }];
  for (const piece of pieces) {
    const rows = piece.dims.length === 2 ? piece.dims[0]! : 1;
    const source = sliceStored(stored, piece.start * cols, (piece.start + rows) * cols);
    const input = transpose ? names.transposed(piece.input) : piece.input;
    const inputDims = transpose ? [cols, rows] : piece.dims;
    if (source.dtype === 'F32' && !half && !transpose) {
      if (checked && firstNonFinite(source.data) >= 0) throw nonFiniteError(checked);
      yield [input, inputDims, source.data];
      continue;
    }
    const out = half ? new Uint16Array(source.data.length) : new Float32Array(source.data.length);
    // Chunks go in row order, so the tensor's first non-finite element is in the first chunk that sees one.
    if (convertInto(out, source, rows, cols, transpose) && checked) throw nonFiniteError(checked);
    yield [input, inputDims, out];
  }
}

/** Every weight input of the decoder (tensorInputs of each checkpoint tensor, in file order) from weights by HF name. */
export function* decoderWeights(c: Qwen3Config, layout: WeightLayout, weights: ReadonlyMap<string, Float32Array>): Generator<[string, number[], WeightData]> {
  for (const name of qwen3TensorShapes(c).keys()) {
    const data = weights.get(name);
    if (!data) throw new Error(`decoderWeights: weight ${name} is missing`);
    yield* tensorInputs(c, layout, name, data);
  }
}

/**
 * Host-side token inputs of the embedding lookup, per chunk: the row within the chunk (0 for
 * tokens outside it) and a 0/1 mask. Masked rows add exact zeros, so the sum over chunks is
 * the embedding row itself, and the device does no int64 arithmetic (design.md "Pitfalls").
 */
export function chunkTokens(c: Qwen3Config, layout: WeightLayout, ids: readonly number[]): { rows: BigInt64Array; mask: Float32Array }[] {
  ids.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new Error(`token ${i}: id ${id} is outside the vocabulary [0, ${c.vocabSize})`);
  });
  return layout.chunks.map(({ start, rows }) => {
    const inside = (id: number) => id >= start && id < start + rows;
    return {
      rows: BigInt64Array.from(ids, (id) => BigInt(inside(id) ? id - start : 0)),
      mask: Float32Array.from(ids, (id) => (inside(id) ? 1 : 0)),
    };
  });
}
