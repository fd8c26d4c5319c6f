// GGUF v3 writer (llama.cpp's format) for Qwen3 models (base or merged with an adapter, f32/f16/Q8_0) and
// for LoRA adapters: what QMD runs through node-llama-cpp, and how llama.cpp checks our numerics.
// Layout: magic, version, counts, key/values, tensor infos, padding, aligned tensor data. Tensor dims are
// written innermost first (ne0 = in for an [out, in] matrix); bytes are HF's, unpermuted. The header
// needs only shapes and types, and every type encodes a row on its own (Q8_0's blocks run along a
// row), so a model streams out a block of rows at a time (writeGguf): an export holds a few MiB, not
// a tensor (Qwen3-0.6B's embedding is 622 MB in float32).
import type { Qwen3Config } from './config.ts';
import { encodeTensor } from './dtype.ts';
import { loraScale, type LoraAdapter } from './peft.ts';
import { encodeQ8_0, Q8_0_BLOCK, q8_0Bytes } from './q8.ts';
import { ggufTensorName, projectionPath, projectionShape, qwen3TensorShapes } from './tensors.ts';

export type GgufValue =
  | { type: 'string'; value: string }
  | { type: 'u32'; value: number }
  | { type: 'i32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string[]'; value: string[] }
  | { type: 'i32[]'; value: ArrayLike<number> };

export type GgufMetadata = Array<[key: string, value: GgufValue]>;

export type GgufType = 'F32' | 'F16' | 'Q8_0';

/** The dtypes exports offer (`qmd export --dtype`, the page), by the name users type. */
export type GgufDtype = 'f32' | 'f16' | 'q8_0';
export const ggufDtypes: Record<GgufDtype, GgufType> = { f32: 'F32', f16: 'F16', q8_0: 'Q8_0' };

export interface GgufTensorInfo {
  name: string;
  /** Row-major shape, outermost first (HF order); written reversed. */
  shape: number[];
  type: GgufType;
}

export interface GgufTensor extends GgufTensorInfo {
  data: Float32Array;
}

/** A tensor read a block of rows at a time when its turn to be written comes. */
export interface GgufTensorSource extends GgufTensorInfo {
  /** Rows [begin, end) of its first dimension (a 1-D tensor's rows are single values), float32 row-major. */
  readRows(begin: number, end: number): Promise<Float32Array>;
}

/** Rows [begin, end) of the named tensor's first dimension (TensorRowReader.readRows, mergedRows). */
export type TensorRows = (name: string, begin: number, end: number) => Promise<Float32Array>;

/**
 * Float32 values a block of rows holds at most when streamed (4 MiB): at Qwen3-0.6B the embedding
 * goes out in blocks of 1,024 rows, and each block's stored bytes, float32 values, merged values
 * and encoding together stay under ~16 MiB.
 */
export const GGUF_BLOCK_VALUES = 1 << 20;

/** Where a streamed file goes (a file handle, a download stream); awaited before the next write. */
export type ByteSink = (bytes: Uint8Array) => Promise<void>;

/**
 * The line that runs an exported model in QMD: it takes its query-expansion model from index.yml's
 * models.generate, else QMD_GENERATE_MODEL, else its built-in one (tobi/qmd src/llm.ts resolveGenerateModel).
 */
export function qmdGenerateLine(path: string): string {
  const shellWord = /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`;
  return `QMD_GENERATE_MODEL=${shellWord} qmd query "…"`;
}

export const ggufAlignment = 32;
const valueType = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9 } as const;
const ggmlType = { F32: 0, F16: 1, Q8_0: 8 } as const;
/** llama.cpp's `general.file_type` (LLAMA_FTYPE_ALL_F32, MOSTLY_F16, MOSTLY_Q8_0). */
const fileType = { F32: 0, F16: 1, Q8_0: 7 } as const;

/** Append-only little-endian byte buffer. */
class ByteWriter {
  private bytes = new Uint8Array(1 << 16);
  private view = new DataView(this.bytes.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  i32(v: number): void {
    this.reserve(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }
  u64(v: number): void {
    this.reserve(8);
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  f32(v: number): void {
    this.reserve(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  u8(v: number): void {
    this.reserve(1);
    this.bytes[this.length++] = v;
  }
  string(s: string): void {
    const encoded = new TextEncoder().encode(s);
    this.u64(encoded.byteLength);
    this.reserve(encoded.byteLength);
    this.bytes.set(encoded, this.length);
    this.length += encoded.byteLength;
  }
  result(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

function writeValue(w: ByteWriter, value: GgufValue): void {
  switch (value.type) {
    case 'string':
      w.u32(valueType.string);
      return w.string(value.value);
    case 'u32':
      w.u32(valueType.u32);
      return w.u32(value.value);
    case 'i32':
      w.u32(valueType.i32);
      return w.i32(value.value);
    case 'f32':
      w.u32(valueType.f32);
      return w.f32(value.value);
    case 'bool':
      w.u32(valueType.bool);
      return w.u8(value.value ? 1 : 0);
    case 'string[]':
      w.u32(valueType.array);
      w.u32(valueType.string);
      w.u64(value.value.length);
      for (const s of value.value) w.string(s);
      return;
    case 'i32[]':
      w.u32(valueType.array);
      w.u32(valueType.i32);
      w.u64(value.value.length);
      for (let i = 0; i < value.value.length; i++) w.i32(value.value[i]);
      return;
  }
}

const padded = (n: number) => Math.ceil(n / ggufAlignment) * ggufAlignment;

function count(t: GgufTensorInfo): number {
  return t.shape.reduce((a, d) => a * d, 1);
}

function dataBytes(t: GgufTensorInfo): number {
  const n = count(t);
  return t.type === 'Q8_0' ? q8_0Bytes(n) : n * (t.type === 'F32' ? 4 : 2);
}

/** `data` (`expected` values of tensor `t`: the whole, or a block of its rows) in t's type. */
function encodeData(t: GgufTensorInfo, data: Float32Array, expected = count(t), what = `shape [${t.shape.join(', ')}] holds`): Uint8Array {
  if (data.length !== expected) throw new Error(`GGUF tensor ${t.name}: ${what} ${expected} values, data has ${data.length}`);
  return t.type === 'Q8_0' ? encodeQ8_0(data) : encodeTensor(t.type, data);
}

/** Values in one row of the first dimension (1 for a 1-D tensor). */
const rowValues = (t: GgufTensorInfo) => t.shape.slice(1).reduce((a, d) => a * d, 1);

/** Everything before the tensor data, padded to the alignment, and each tensor's offset in the data. */
function encodeHeader(metadata: GgufMetadata, tensors: readonly GgufTensorInfo[]): { header: Uint8Array; offsets: number[]; size: number } {
  const w = new ByteWriter();
  w.u32(0x46554747); // "GGUF"
  w.u32(3);
  w.u64(tensors.length);
  w.u64(metadata.length);
  for (const [key, value] of metadata) {
    w.string(key);
    writeValue(w, value);
  }
  const offsets: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    if (t.type === 'Q8_0' && t.shape.at(-1)! % Q8_0_BLOCK !== 0) throw new Error(`GGUF tensor ${t.name}: Q8_0 needs rows of a multiple of ${Q8_0_BLOCK} values`);
    w.string(t.name);
    w.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) w.u64(d);
    w.u32(ggmlType[t.type]);
    w.u64(offset);
    offsets.push(offset);
    offset += padded(dataBytes(t));
  }
  const unpadded = w.result();
  const header = new Uint8Array(padded(unpadded.byteLength));
  header.set(unpadded);
  return { header, offsets, size: header.byteLength + offset };
}

/** The size in bytes of the file writeGguf writes for these tensors (known before any is read: progress, space). */
export function ggufSize(metadata: GgufMetadata, tensors: readonly GgufTensorInfo[]): number {
  return encodeHeader(metadata, tensors).size;
}

/** Encodes a whole GGUF v3 file in memory (adapters, tests). */
export function encodeGguf(metadata: GgufMetadata, tensors: GgufTensor[]): Uint8Array<ArrayBuffer> {
  const { header, offsets, size } = encodeHeader(metadata, tensors);
  const out = new Uint8Array(size);
  out.set(header);
  tensors.forEach((t, i) => out.set(encodeData(t, t.data), header.byteLength + offsets[i]!));
  return out;
}

/**
 * Streams a GGUF v3 file to `sink`, reading and encoding a block of whole rows at a time (at most
 * `blockValues` values, or one row where a row is longer); returns its size in bytes. The bytes are
 * those of encoding each tensor whole: every type encodes row by row.
 */
export async function writeGguf(sink: ByteSink, metadata: GgufMetadata, tensors: readonly GgufTensorSource[], blockValues = GGUF_BLOCK_VALUES): Promise<number> {
  const { header, size } = encodeHeader(metadata, tensors);
  await sink(header);
  for (const t of tensors) {
    const rows = t.shape[0] ?? 1;
    const perRow = rowValues(t);
    const step = Math.max(1, Math.floor(blockValues / perRow));
    for (let begin = 0; begin < rows; begin += step) {
      const end = Math.min(rows, begin + step);
      await sink(encodeData(t, await t.readRows(begin, end), (end - begin) * perRow, `rows ${begin} to ${end} hold`));
    }
    const bytes = dataBytes(t);
    const pad = padded(bytes) - bytes;
    if (pad > 0) await sink(new Uint8Array(pad));
  }
  return size;
}

export interface Qwen3GgufOptions {
  /** Type of the matrices; 1-D tensors (norms) stay f32 as llama.cpp's converter keeps them. */
  type?: GgufType;
  name?: string;
}

/** Whole tensors already in memory read as rows: views into them, nothing copied (small models, tests). */
export function wholeTensorRows(config: Qwen3Config, read: (name: string) => Promise<Float32Array>): TensorRows {
  const shapes = qwen3TensorShapes(config);
  return async (name, begin, end) => {
    const whole = await read(name);
    const perRow = whole.length / shapes.get(name)![0]!;
    return whole.subarray(begin * perRow, end * perRow);
  };
}

/** The metadata and (lazily read, a block of rows at a time) tensors of a Qwen3 model as GGUF. */
export function qwen3GgufParts(
  config: Qwen3Config,
  rows: TensorRows,
  tokenizerMetadata: GgufMetadata,
  options: Qwen3GgufOptions = {},
): { metadata: GgufMetadata; tensors: GgufTensorSource[] } {
  const type = options.type ?? 'F32';
  const u32 = (value: number): GgufValue => ({ type: 'u32', value });
  const metadata: GgufMetadata = [
    ['general.architecture', { type: 'string', value: 'qwen3' }],
    ['general.type', { type: 'string', value: 'model' }],
    ['general.name', { type: 'string', value: options.name ?? 'qwen3' }],
    ['general.file_type', u32(fileType[type])],
    ['general.alignment', u32(ggufAlignment)],
    ['qwen3.context_length', u32(config.maxPositionEmbeddings)],
    ['qwen3.embedding_length', u32(config.hiddenSize)],
    ['qwen3.block_count', u32(config.numLayers)],
    ['qwen3.feed_forward_length', u32(config.intermediateSize)],
    ['qwen3.attention.head_count', u32(config.numHeads)],
    ['qwen3.attention.head_count_kv', u32(config.numKvHeads)],
    ['qwen3.attention.key_length', u32(config.headDim)],
    ['qwen3.attention.value_length', u32(config.headDim)],
    ['qwen3.attention.layer_norm_rms_epsilon', { type: 'f32', value: config.rmsNormEps }],
    ['qwen3.rope.freq_base', { type: 'f32', value: config.ropeTheta }],
    ...tokenizerMetadata,
  ];
  const tensors: GgufTensorSource[] = [];
  for (const [name, shape] of qwen3TensorShapes(config)) {
    // Q8_0 quantizes whole blocks of a row; a matrix whose rows don't divide falls back to f16.
    const matrixType = type === 'Q8_0' && shape.at(-1)! % Q8_0_BLOCK !== 0 ? 'F16' : type;
    tensors.push({ name: ggufTensorName(name), shape, type: shape.length === 1 ? 'F32' : matrixType, readRows: (begin, end) => rows(name, begin, end) });
  }
  return { metadata, tensors };
}

/** A Qwen3 model as one in-memory GGUF file (small models, tests). */
export async function qwen3Gguf(
  config: Qwen3Config,
  weights: { read(name: string): Promise<Float32Array> },
  tokenizerMetadata: GgufMetadata,
  options: Qwen3GgufOptions = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const { metadata, tensors } = qwen3GgufParts(config, wholeTensorRows(config, (n) => weights.read(n)), tokenizerMetadata, options);
  const out = new Uint8Array(encodeHeader(metadata, tensors).size);
  let at = 0;
  await writeGguf(async (bytes) => {
    out.set(bytes, at);
    at += bytes.byteLength;
  }, metadata, tensors);
  return out;
}

/** A LoRA adapter as llama.cpp's GGUF adapter (`<base tensor>.lora_a` [r, in], `.lora_b` [out, r]). */
export function loraGguf(adapter: LoraAdapter, model: Qwen3Config, options: { type?: 'F32' | 'F16' } = {}): Uint8Array<ArrayBuffer> {
  const { r, targets } = adapter.config;
  const type = options.type ?? 'F32';
  // llama.cpp scales by alpha / r (r read from lora_a), so rsLoRA's alpha/√r is passed as an equivalent alpha.
  const alpha = loraScale(adapter.config) * r;
  const metadata: GgufMetadata = [
    ['general.architecture', { type: 'string', value: 'qwen3' }],
    ['general.type', { type: 'string', value: 'adapter' }],
    ['general.alignment', { type: 'u32', value: ggufAlignment }],
    ['adapter.type', { type: 'string', value: 'lora' }],
    ['adapter.lora.alpha', { type: 'f32', value: alpha }],
  ];
  const tensors: GgufTensor[] = [];
  adapter.layers.forEach((pairs, layer) => {
    for (const target of targets) {
      const pair = pairs[target];
      if (!pair) throw new Error(`adapter: layer ${layer} has no ${target} matrices`);
      const [out, inp] = projectionShape(model, target);
      const base = ggufTensorName(`${projectionPath(layer, target)}.weight`);
      tensors.push({ name: `${base}.lora_a`, shape: [r, inp], type, data: pair.a });
      tensors.push({ name: `${base}.lora_b`, shape: [out, r], type, data: pair.b });
    }
  });
  return encodeGguf(metadata, tensors);
}
