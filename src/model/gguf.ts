// GGUF v3 writer (llama.cpp's format) for a Qwen3 base model and for LoRA adapters, so that llama.cpp can
// check our numerics. Layout: magic, version, counts, key/values, tensor infos, padding, aligned tensor data.
// Tensor dims are written innermost first (ne0 = in for an [out, in] matrix); bytes are HF's, unpermuted.
import type { Qwen3Config } from './config.ts';
import { encodeTensor } from './dtype.ts';
import { loraScale, type LoraAdapter } from './peft.ts';
import type { TensorReader } from './safetensors.ts';
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

export interface GgufTensor {
  name: string;
  /** Row-major shape, outermost first (HF order); written reversed. */
  shape: number[];
  type: 'F32' | 'F16';
  data: Float32Array;
}

export const ggufAlignment = 32;
const valueType = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9 } as const;
const ggmlType = { F32: 0, F16: 1 } as const;

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

/** Encodes a whole GGUF v3 file. */
export function encodeGguf(metadata: GgufMetadata, tensors: GgufTensor[]): Uint8Array<ArrayBuffer> {
  const w = new ByteWriter();
  w.u32(0x46554747); // "GGUF"
  w.u32(3);
  w.u64(tensors.length);
  w.u64(metadata.length);
  for (const [key, value] of metadata) {
    w.string(key);
    writeValue(w, value);
  }
  const encoded = tensors.map((t) => {
    const count = t.shape.reduce((a, d) => a * d, 1);
    if (count !== t.data.length) throw new Error(`GGUF tensor ${t.name}: shape [${t.shape.join(', ')}] holds ${count} values, data has ${t.data.length}`);
    return encodeTensor(t.type, t.data);
  });
  let offset = 0;
  tensors.forEach((t, i) => {
    w.string(t.name);
    w.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) w.u64(d);
    w.u32(ggmlType[t.type]);
    w.u64(offset);
    offset += padded(encoded[i].byteLength);
  });
  const header = w.result();
  const dataStart = padded(header.byteLength);
  const out = new Uint8Array(dataStart + offset);
  out.set(header);
  let cursor = dataStart;
  for (const bytes of encoded) {
    out.set(bytes, cursor);
    cursor += padded(bytes.byteLength);
  }
  return out;
}

/** A Qwen3 base model as GGUF; 1-D tensors (norms) stay f32 as llama.cpp's converter keeps them. */
export async function qwen3Gguf(
  config: Qwen3Config,
  weights: Pick<TensorReader, 'read'>,
  tokenizerMetadata: GgufMetadata,
  options: { type?: 'F32' | 'F16'; name?: string } = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const type = options.type ?? 'F32';
  const u32 = (value: number): GgufValue => ({ type: 'u32', value });
  const metadata: GgufMetadata = [
    ['general.architecture', { type: 'string', value: 'qwen3' }],
    ['general.type', { type: 'string', value: 'model' }],
    ['general.name', { type: 'string', value: options.name ?? 'qwen3' }],
    ['general.file_type', u32(type === 'F32' ? 0 : 1)],
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
  const tensors: GgufTensor[] = [];
  for (const [name, shape] of qwen3TensorShapes(config)) {
    tensors.push({ name: ggufTensorName(name), shape, type: shape.length === 1 ? 'F32' : type, data: await weights.read(name) });
  }
  return encodeGguf(metadata, tensors);
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
