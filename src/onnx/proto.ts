// A minimal protobuf writer for the subset of onnx.proto (proto2) that our graphs use.
// Field numbers are those of github.com/onnx/onnx/blob/main/onnx/onnx.proto.
// Repeated scalars are written unpacked (proto2's default); parsers accept either form.

/** TensorProto.DataType codes of the element types we emit. */
export const dataTypeCode = { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11 } as const;
export type DType = keyof typeof dataTypeCode;

export interface TensorMessage {
  name: string;
  dims: readonly number[];
  dtype: DType;
  raw: Uint8Array; // little-endian element bytes
}

export type AttributeMessage =
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'int'; value: number }
  | { name: string; type: 'string'; value: string }
  | { name: string; type: 'tensor'; value: TensorMessage }
  | { name: string; type: 'floats'; value: readonly number[] }
  | { name: string; type: 'ints'; value: readonly number[] };

export interface NodeMessage {
  name: string;
  opType: string;
  domain: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes: readonly AttributeMessage[];
}

export interface ValueInfoMessage {
  name: string;
  dtype: DType;
  dims: readonly (number | string)[] | null; // null: rank unknown
}

export interface ModelMessage {
  irVersion: number;
  opsets: readonly { domain: string; version: number }[];
  producer: string;
  graph: {
    name: string;
    nodes: readonly NodeMessage[];
    initializers: readonly TensorMessage[];
    inputs: readonly ValueInfoMessage[];
    outputs: readonly ValueInfoMessage[];
  };
}

const VARINT = 0;
const FIXED32 = 5;
const BYTES = 2;

class Writer {
  private chunks: Uint8Array[] = [];
  private scratch: number[] = [];

  private flush(): void {
    if (this.scratch.length) this.chunks.push(Uint8Array.from(this.scratch));
    this.scratch = [];
  }

  private tag(field: number, wire: number): void {
    this.varint(BigInt(field * 8 + wire));
  }

  private varint(v: bigint): void {
    let u = BigInt.asUintN(64, v); // int64 negatives take 10 bytes, as protobuf specifies
    while (u >= 0x80n) {
      this.scratch.push(Number(u & 0x7fn) | 0x80);
      u >>= 7n;
    }
    this.scratch.push(Number(u));
  }

  int(field: number, v: number): this {
    if (!Number.isSafeInteger(v)) throw new Error(`proto.ts: field ${field} needs an integer, got ${v}`);
    this.tag(field, VARINT);
    this.varint(BigInt(v));
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.scratch.push(...b);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.tag(field, BYTES);
    this.varint(BigInt(b.length));
    this.flush();
    this.chunks.push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, write: (w: Writer) => void): this {
    const inner = new Writer();
    write(inner);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

// TensorProto: dims 1, data_type 2, name 8, raw_data 9.
function tensor(w: Writer, t: TensorMessage): void {
  for (const d of t.dims) w.int(1, d);
  w.int(2, dataTypeCode[t.dtype]);
  w.string(8, t.name);
  w.bytes(9, t.raw);
}

// AttributeProto: name 1, f 2, i 3, s 4, t 5, floats 7, ints 8, type 20
// (AttributeType FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7).
function attribute(w: Writer, a: AttributeMessage): void {
  w.string(1, a.name);
  switch (a.type) {
    case 'float':
      w.float(2, a.value).int(20, 1);
      break;
    case 'int':
      w.int(3, a.value).int(20, 2);
      break;
    case 'string':
      w.string(4, a.value).int(20, 3);
      break;
    case 'tensor':
      w.message(5, (t) => tensor(t, a.value)).int(20, 4);
      break;
    case 'floats':
      for (const f of a.value) w.float(7, f);
      w.int(20, 6);
      break;
    case 'ints':
      for (const i of a.value) w.int(8, i);
      w.int(20, 7);
      break;
  }
}

// NodeProto: input 1, output 2, name 3, op_type 4, attribute 5, domain 7.
function node(w: Writer, n: NodeMessage): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name).string(4, n.opType);
  for (const a of n.attributes) w.message(5, (m) => attribute(m, a));
  if (n.domain) w.string(7, n.domain);
}

// ValueInfoProto{name 1, type 2} → TypeProto{tensor_type 1} → Tensor{elem_type 1, shape 2}
// → TensorShapeProto{dim 1} → Dimension{dim_value 1 | dim_param 2}.
function valueInfo(w: Writer, v: ValueInfoMessage): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (t) => {
      t.int(1, dataTypeCode[v.dtype]);
      const dims = v.dims;
      if (dims) t.message(2, (s) => dims.forEach((d) => s.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)))));
    }),
  );
}

// ModelProto: ir_version 1, producer_name 2, graph 7, opset_import 8 (OperatorSetIdProto{domain 1, version 2}).
// GraphProto: node 1, name 2, initializer 5, input 11, output 12.
export function encodeModel(m: ModelMessage): Uint8Array {
  const w = new Writer();
  w.int(1, m.irVersion).string(2, m.producer);
  w.message(7, (g) => {
    for (const n of m.graph.nodes) g.message(1, (x) => node(x, n));
    g.string(2, m.graph.name);
    for (const t of m.graph.initializers) g.message(5, (x) => tensor(x, t));
    for (const v of m.graph.inputs) g.message(11, (x) => valueInfo(x, v));
    for (const v of m.graph.outputs) g.message(12, (x) => valueInfo(x, v));
  });
  for (const o of m.opsets) w.message(8, (x) => x.string(1, o.domain).int(2, o.version));
  return w.finish();
}
