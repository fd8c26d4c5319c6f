// The initializers of an ONNX model file, by name, shape and size: the weight bytes a
// transformers.js session binds on every run. Only the protobuf fields on the way are decoded
// (ModelProto.graph → GraphProto.initializer → TensorProto dims, data_type, name); tensor data is
// skipped, never copied. src/onnx/proto.ts only encodes.

export interface Initializer {
  name: string;
  dims: number[];
  bytes: number;
}

// ONNX TensorProto.DataType → bits per element (4-bit types for MatMulNBits-style exports).
const BITS: Record<number, number> = { 1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32, 13: 64, 16: 16, 21: 4, 22: 4 };

// Field numbers (onnx.proto3).
const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_DIMS = 1;
const TENSOR_DATA_TYPE = 2;
const TENSOR_NAME = 8;

type Field = { field: number; wire: number; varint: number; start: number; end: number };

/** The varint at bytes[at] (before `end`) and the index after it. */
function varint(bytes: Uint8Array, at: number, end: number, where: string): [number, number] {
  let value = 0;
  for (let scale = 1; ; scale *= 128) {
    if (at >= end) throw new Error(`${where}: varint runs past the message end at byte ${at}`);
    const b = bytes[at++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) return [value, at];
  }
}

/** The top-level fields of one message in bytes[start, end). */
function* fields(bytes: Uint8Array, start: number, end: number, where: string): Generator<Field> {
  let at = start;
  while (at < end) {
    let key: number;
    [key, at] = varint(bytes, at, end, where);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      let value: number;
      [value, at] = varint(bytes, at, end, where);
      yield { field, wire, varint: value, start: at, end: at };
    } else if (wire === 2) {
      let length: number;
      [length, at] = varint(bytes, at, end, where);
      if (at + length > end) throw new Error(`${where}: field ${field} of ${length} bytes runs past the message end at byte ${at}`);
      yield { field, wire, varint: 0, start: at, end: at + length };
      at += length;
    } else if (wire === 5) at += 4;
    else if (wire === 1) at += 8;
    else throw new Error(`${where}: unsupported wire type ${wire} for field ${field} at byte ${at}`);
  }
}

function initializer(bytes: Uint8Array, f: Field, file: string): Initializer {
  const where = `${file} initializer at byte ${f.start}`;
  const dims: number[] = [];
  let dataType = 0;
  let name = '';
  for (const t of fields(bytes, f.start, f.end, where)) {
    if (t.field === TENSOR_DIMS && t.wire === 0) dims.push(t.varint);
    else if (t.field === TENSOR_DIMS && t.wire === 2) {
      // Packed: the values back to back.
      for (let at = t.start; at < t.end; ) {
        let d: number;
        [d, at] = varint(bytes, at, t.end, where);
        dims.push(d);
      }
    } else if (t.field === TENSOR_DATA_TYPE) dataType = t.varint;
    else if (t.field === TENSOR_NAME) name = new TextDecoder().decode(bytes.subarray(t.start, t.end));
  }
  const bits = BITS[dataType];
  if (bits === undefined) throw new Error(`${where}: ${name || 'unnamed'} has data_type ${dataType}, not a known element type`);
  return { name, dims, bytes: Math.ceil((dims.reduce((a, d) => a * d, 1) * bits) / 8) };
}

/** Every initializer of the model in `bytes` (the contents of `file`, named in errors). */
export function onnxInitializers(bytes: Uint8Array, file: string): Initializer[] {
  const out: Initializer[] = [];
  for (const m of fields(bytes, 0, bytes.length, file)) {
    if (m.field !== MODEL_GRAPH || m.wire !== 2) continue;
    for (const g of fields(bytes, m.start, m.end, `${file} graph`)) if (g.field === GRAPH_INITIALIZER && g.wire === 2) out.push(initializer(bytes, g, file));
  }
  return out;
}
