// How a Qwen3 checkpoint becomes graph inputs on a device: the matrices' element type (float32,
// float16, or 4-bit blocks: q4.ts; the norm vectors float32 in every layout: inputDtype), and the
// vocabulary tensors (embedding, LM head: [V, D], 622 MB fp32 at V = 151,936, D = 1,024) cut into
// row chunks that each fit one storage-buffer binding (design.md "Models on the hub").
import type { Qwen3Config } from '../config.ts';
import { convertInto, firstNonFinite, toFloat16, nonFiniteError, sliceStored, type StoredTensor, type StoredValues } from '../dtype.ts';
import { Q4_BLOB, Q4_BLOCK, q4Refusal, quantizeQ4Into } from '../q4.ts';
import { qwen3TensorShapes } from '../tensors.ts';
import * as names from './names.ts';

/** The element type of float weights: what training, merging and the float layouts hold. */
export type WeightDtype = 'float32' | 'float16';
/**
 * A layout's weights: float, or 4-bit: every matrix as 4-bit blocks (names.q4 packed + scales,
 * read by MatMulNBits and GatherBlockQuantized, inference only) with float32 scales and norm
 * vectors ('q4'), or float16 ones ('q4f16': the fused decoder's activations are then float16 too,
 * decoder-fused.ts, as transformers.js' q4f16 models run).
 */
export type LayoutDtype = WeightDtype | 'q4' | 'q4f16';

/** Whether a layout holds its matrices as 4-bit blocks. */
export const isQ4Layout = (dtype: LayoutDtype): dtype is 'q4' | 'q4f16' => dtype === 'q4' || dtype === 'q4f16';

/**
 * The float type of a layout's norm vectors (and a 4-bit layout's scales): float16 under q4f16,
 * whose fused decoder runs its activations in it too (decoder-fused.ts); float32 in every other layout.
 */
export const vectorDtype = (dtype: LayoutDtype): WeightDtype => (dtype === 'q4f16' ? 'float16' : 'float32');

export interface WeightLayout {
  dtype: LayoutDtype;
  /** Rows [start, start + rows) of the vocabulary in each chunk; one chunk when unsplit. */
  chunks: readonly { start: number; rows: number }[];
}

export interface LayoutOptions {
  /** The largest buffer the device binds (min of maxStorageBufferBindingSize and maxBufferSize); default: no limit. */
  maxBindingBytes?: number;
  /** 'float16' halves weight memory (inference multiplies by it as stored, training casts it to float32 where used: forward.ts MatrixUse); 'q4' takes ~1/6 of float32's, 'q4f16' ~1/7. */
  weightDtype?: LayoutDtype;
}

export const EMBED = 'model.embed_tokens.weight';
export const LM_HEAD = 'lm_head.weight';
const vocabTensors = new Set([EMBED, LM_HEAD]);

/** Graph input name of chunk `k` of a vocabulary tensor; the HF name itself when unsplit. */
export const chunkName = (name: string, k: number, layout: WeightLayout): string => (layout.chunks.length === 1 ? name : `${name}#${k}`);

const bytesOf = (dims: readonly number[], bytes: number) => dims.reduce((a, d) => a * d, bytes);

/**
 * The element type of a weight input of `dims` under a layout of `dtype`: a matrix has the
 * layout's (q4, q4f16: codes and scales), a norm vector float32 in every layout but q4f16, whose
 * graphs norm in float16 — 0.26 MB at Qwen3-0.6B, where casting each where it is read would be one
 * more dispatch per norm and step.
 */
export const inputDtype = (dtype: LayoutDtype, dims: readonly number[]): LayoutDtype => (dims.length === 1 ? vectorDtype(dtype) : dtype);

/** Whether `dims` are stored as 4-bit blocks under a layout of `dtype`: every matrix of a 4-bit layout. */
const quantized = (dtype: LayoutDtype, dims: readonly number[]) => isQ4Layout(inputDtype(dtype, dims));

/**
 * The largest buffer the device binds for a tensor of `dims`: float32 whatever the stored float
 * type (the in-graph float32 cast, and transpose, of a weight is a buffer too); a q4 matrix's
 * packed codes, as MatMulNBits and GatherBlockQuantized read them without a float copy.
 */
const bindingBytes = (dtype: LayoutDtype, dims: readonly number[]) => (quantized(dtype, dims) ? bytesOf(dims, 1) / 2 : bytesOf(dims, 4));

/**
 * Why no layout of `dtype` fits bindings of `limit` bytes (null: one does): a q4 matrix whose rows
 * are not whole blocks, or the first tensor over the limit that cannot be split. A vocabulary row
 * is never larger than model.norm, checked here, so a layout that passes can always be cut into chunks.
 */
export function layoutRefusal(c: Qwen3Config, limit: number, dtype: LayoutDtype = 'float32'): string | null {
  for (const [name, dims] of qwen3TensorShapes(c)) {
    const blocks = quantized(dtype, dims) ? q4Refusal(name, dims) : null;
    if (blocks) return `${blocks}: this model cannot be loaded in ${dtype}`;
    const bytes = bindingBytes(dtype, dims);
    if (!vocabTensors.has(name) && bytes > limit) {
      const as = quantized(dtype, dims) ? 'as 4-bit codes' : 'in float32';
      return `${name} [${dims.join(', ')}] needs ${bytes} bytes ${as}, over the binding limit of ${limit} bytes, and only vocabulary tensors can be split`;
    }
  }
  return null;
}

export function weightLayout(c: Qwen3Config, options: LayoutOptions = {}): WeightLayout {
  const dtype = options.weightDtype ?? 'float32';
  const limit = options.maxBindingBytes ?? Infinity;
  const refusal = layoutRefusal(c, limit, dtype);
  if (refusal) throw new Error(`weightLayout: ${refusal}`);
  const rowBytes = bindingBytes(dtype, [1, c.hiddenSize]);
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

/**
 * Bytes the weight inputs of `layout` take on the device (what Qwen3Session.memory().weights
 * reports): float32 or float16 matrix elements, or per 4-bit matrix [N, K] its codes (N·K/2 bytes)
 * and scales (N·K/32, 4 bytes each, 2 under q4f16); norm vectors float32 (float16 under q4f16).
 */
export function layoutBytes(c: Qwen3Config, layout: WeightLayout): number {
  return [...layoutShapes(c, layout).values()].reduce((sum, dims) => sum + tensorBytes(layout.dtype, dims), 0);
}

/** Bytes of a float element of `dtype`: 2 for float16, else 4 (a float32). */
export const floatBytes = (dtype: LayoutDtype): number => (dtype === 'float16' ? 2 : 4);

/** Bytes of one tensor (or chunk) of `dims` on the device under a layout of `dtype`. */
export function tensorBytes(dtype: LayoutDtype, dims: readonly number[]): number {
  const count = bytesOf(dims, 1);
  return quantized(dtype, dims) ? count / 2 + (count / Q4_BLOCK) * floatBytes(vectorDtype(dtype)) : count * floatBytes(inputDtype(dtype, dims));
}

/**
 * The float element type of `layout`'s weights, for `what` only float weights allow (training,
 * merging: their graphs read and write whole float matrices); a q4 layout is refused, naming its weights.
 */
export function floatWeights(layout: WeightLayout, what: string): WeightDtype {
  if (!isQ4Layout(layout.dtype)) return layout.dtype;
  throw new Error(
    `${what} needs float32 or float16 base weights, and this model is loaded with 4-bit ones (${layout.dtype}: every matrix as MatMulNBits codes and scales, ` +
      `e.g. ${names.q4(EMBED, 'packed')}); load it in f16 or f32 to train on it or merge into it`,
  );
}

/** float32 data, float16 bits (Uint16Array: a float16 layout's matrices, q4f16's scales and norm vectors), or a 4-bit matrix's codes (Uint8Array). */
export type WeightData = Float32Array | Uint16Array | Uint8Array;

/** The element type a weight input's data is uploaded as. */
export const weightType = (data: WeightData): 'float32' | 'float16' | 'uint8' =>
  data instanceof Float32Array ? 'float32' : data instanceof Uint16Array ? 'float16' : 'uint8';

/**
 * Whether the decoder reads weight `name` (HF name) transposed (names.transposed) in a float
 * layout: every matrix a MatMul multiplies by — the projections, the LM head, and the embedding
 * when it is the tied LM head (its Gather then reads columns). Norm vectors and an untied embedding
 * stay, and so does every 4-bit matrix (MatMulNBits reads HF's [out, in], blocks along `in`).
 */
export const readsTransposed = (c: Qwen3Config, name: string): boolean =>
  name.endsWith('_proj.weight') || name === LM_HEAD || (name === EMBED && c.tieWordEmbeddings);

/** [rows, cols] → [cols, rows] in float32. */
export function transposeMatrix(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  convertInto(out, { dtype: 'F32', data }, rows, cols, true);
  return out;
}

/** A checkpoint tensor's parts in the layout: a vocabulary tensor's chunks (rows from `start`), any other tensor whole. */
const pieces = (layout: WeightLayout, name: string, dims: readonly number[]) =>
  vocabTensors.has(name)
    ? layout.chunks.map(({ start, rows }, k) => ({ input: chunkName(name, k, layout), start, dims: [rows, dims[1]!] }))
    : [{ input: name, start: 0, dims: [...dims] }];

/** The stored types of a 4-bit layout's inputs: codes, and float scales and norm vectors. */
export type Q4InputDtype = 'U8' | 'F32' | 'F16';

/**
 * Per checkpoint tensor (HF name, in file order), the graph inputs tensorInputs makes of it under
 * a 4-bit layout: each matrix piece's codes (uint8 [rows, cols/32, 16]) and scales ([rows, cols/32]),
 * each norm vector as it is; floats F32 under q4, F16 under q4f16. What a q4 copy (q4-copy.ts) is laid out by.
 */
export function q4InputShapes(c: Qwen3Config, layout: WeightLayout): Map<string, [input: string, dims: number[], dtype: Q4InputDtype][]> {
  if (!isQ4Layout(layout.dtype)) throw new Error(`q4InputShapes: the layout is ${layout.dtype}, not q4 or q4f16`);
  const float = vectorDtype(layout.dtype) === 'float16' ? 'F16' : 'F32';
  const shapes = new Map<string, [string, number[], Q4InputDtype][]>();
  for (const [name, dims] of qwen3TensorShapes(c)) {
    shapes.set(
      name,
      pieces(layout, name, dims).flatMap(({ input, dims: [rows, cols] }): [string, number[], Q4InputDtype][] =>
        cols === undefined
          ? [[input, [rows!], float]]
          : [
              [names.q4(input, 'packed'), [rows!, cols / Q4_BLOCK, Q4_BLOB], 'U8'],
              [names.q4(input, 'scales'), [rows!, cols / Q4_BLOCK], float],
            ],
      ),
    );
  }
  return shapes;
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
 * loader that uploads each before asking for the next holds the tensor and one chunk. Under a q4
 * layout each matrix (or chunk) becomes its codes and scales instead (q4Inputs), quantized as it is
 * read: the host holds the stored tensor, one chunk's codes and a few rows in float32.
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
  const half = inputDtype(layout.dtype, dims) === 'float16';
  const transpose = !isQ4Layout(layout.dtype) && readsTransposed(c, name);
  const cols = dims.at(-1)!;
  for (const piece of pieces(layout, name, dims)) {
    const rows = piece.dims.length === 2 ? piece.dims[0]! : 1;
    const source = sliceStored(stored, piece.start * cols, (piece.start + rows) * cols);
    if (quantized(layout.dtype, piece.dims)) {
      yield* q4Inputs(piece.input, source, rows, cols, checked, vectorDtype(layout.dtype));
      continue;
    }
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

/** Rows widened to float32 at a time while quantizing: the host's float copy of a tensor stays this small. */
const Q4_ROWS = 256;

/**
 * A matrix piece [rows, cols] as its two 4-bit inputs (names.q4): codes [rows, cols/32, 16] and
 * scales [rows, cols/32] (`scales` float16: rounded to nearest even from quantizeQ4's float32),
 * quantized Q4_ROWS rows at a time from the stored values, each batch widened and checked for
 * non-finite values (as convertInto checks a float layout's) on the way.
 */
function* q4Inputs(input: string, source: StoredValues, rows: number, cols: number, checked: StoredTensor | null, scales: WeightDtype): Generator<[string, number[], WeightData]> {
  const blocks = cols / Q4_BLOCK;
  const out = { packed: new Uint8Array(rows * blocks * Q4_BLOB), scales: new Float32Array(rows * blocks) };
  const scratch = source.dtype === 'F32' ? null : new Float32Array(Math.min(rows, Q4_ROWS) * cols);
  for (let row = 0; row < rows; row += Q4_ROWS) {
    const n = Math.min(Q4_ROWS, rows - row);
    const part = sliceStored(source, row * cols, (row + n) * cols);
    let values: Float32Array;
    if (part.dtype === 'F32') {
      values = part.data;
      if (checked && firstNonFinite(values) >= 0) throw nonFiniteError(checked);
    } else {
      values = scratch!.subarray(0, n * cols);
      if (convertInto(values, part, n, cols, false) && checked) throw nonFiniteError(checked);
    }
    quantizeQ4Into(out, row * blocks, values, n, cols, input);
  }
  yield [names.q4(input, 'packed'), [rows, blocks, Q4_BLOB], out.packed];
  yield [names.q4(input, 'scales'), [rows, blocks], scales === 'float16' ? halfScales(input, out.scales) : out.scales];
}

/** 4-bit scales as float16, refusing one past float16's range (a block whose largest magnitude is over 8 × 65,504), which would be ±Infinity. */
function halfScales(input: string, scales: Float32Array): Uint16Array {
  const { bits, overflow } = toFloat16(scales);
  if (overflow >= 0) throw new Error(`${input}: block ${overflow}'s scale ${scales[overflow]} is past float16's range; load this model in q4 (float32 scales)`);
  return bits;
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

/** A graph input made on the host: its name, dims and data. */
export type VocabularyInput = [name: string, dims: number[], data: BigInt64Array | Float32Array];

/**
 * Token ids [batch·length] as the graphs read them (forward.ts declareTokens): input_ids when the
 * vocabulary is one chunk (its rows are the ids themselves), else per chunk its rows and mask.
 */
export function tokenInputs(c: Qwen3Config, layout: WeightLayout, batch: number, length: number, ids: readonly number[]): VocabularyInput[] {
  if (ids.length !== batch * length) throw new Error(`tokenInputs: ${batch} × ${length} tokens need ${batch * length} ids, got ${ids.length}`);
  const tokens = chunkTokens(c, layout, ids);
  if (layout.chunks.length === 1) return [[names.INPUT_IDS, [batch, length], tokens[0]!.rows]];
  return tokens.flatMap(({ rows, mask }, k): VocabularyInput[] => [
    [names.chunkRows(k), [batch, length], rows],
    [names.chunkMask(k), [batch, length, 1], mask],
  ]);
}
