// The ONNX graph builder: typed values, name scopes, constants, serialization.
// Each op's forward (shape inference + lowering to ONNX) and its VJP live together in rules.ts;
// ops.ts extends this core with thin typed entry points onto that table.
import { encodeModel, type AttributeMessage, type DType, type NodeMessage, type TensorMessage } from './proto.ts';
import type { Dim, Shape } from './shape.ts';
import type { OpName } from './rules.ts';

export type { DType } from './proto.ts';
export type { Dim, Shape } from './shape.ts';

/** Opset of the default ONNX domain. Reductions other than ReduceSum take axes as attributes here. */
export const OPSET = 17;
export const IR_VERSION = 8;

export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;

export interface Value {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
}

export interface Node {
  readonly name: string;
  /** Key into rules.ts (StopGradient, ReshapeLike… lower to other ONNX op types). */
  readonly op: OpName | null;
  readonly opType: string;
  readonly domain: string;
  /** The differentiable-or-not operands the rule sees (static params such as axes are in `params`). */
  readonly args: readonly Value[];
  readonly inputs: readonly (Value | null)[];
  readonly outputs: readonly Value[];
  readonly attributes: readonly AttributeMessage[];
  readonly params: unknown;
}

export const isFloat = (d: DType): boolean => d === 'float32' || d === 'float64' || d === 'float16';

function dtypeOf(data: TensorData, explicit?: DType): DType {
  if (explicit) return explicit;
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  throw new Error(`graph.ts: give the dtype of a ${data.constructor.name} explicitly (bool/uint8 or float16)`);
}

export class GraphCore {
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly initializers: { value: Value; data: TensorData }[] = [];
  private readonly producers = new Map<string, Node>();
  private readonly valueNames = new Set<string>();
  private readonly nodeNames = new Set<string>();
  /** Per base name, the suffix to try next (nodes', values'): probing from _1 each time made n same-named nodes (a loss head's chunks at a long max_length) cost n² checks. */
  private readonly nodeSuffix = new Map<string, number>();
  private readonly valueSuffix = new Map<string, number>();
  private readonly constants = new Map<string, Value>();
  private readonly scopes: string[] = [];
  private readonly domains = new Map<string, number>([['', OPSET]]);

  constructor(readonly name: string) {}

  /** Run `build` with `name` pushed on the scope stack: nodes get names like 'layer0/attn/MatMul'. */
  scope<T>(name: string, build: () => T): T {
    this.scopes.push(name);
    try {
      return build();
    } finally {
      this.scopes.pop();
    }
  }

  /** A unique node name under the current scope, e.g. 'layer0/attn/q_proj/MatMul'. */
  protected nodeName(label: string): string {
    const name = this.unused([...this.scopes, label].join('/'), this.nodeNames, this.nodeSuffix);
    this.nodeNames.add(name);
    return name;
  }

  private freeValueName(base: string): string {
    return this.unused(base, this.valueNames, this.valueSuffix);
  }

  /** `base`, or `base_i` for the first i from where the last search for `base` ended, not in `taken`. */
  private unused(base: string, taken: ReadonlySet<string>, next: Map<string, number>): string {
    let i = next.get(base) ?? 0;
    let name = i === 0 ? base : `${base}_${i}`;
    while (taken.has(name)) name = `${base}_${++i}`;
    next.set(base, i);
    return name;
  }

  private declare(name: string, dtype: DType, shape: Shape, where: string): Value {
    if (this.valueNames.has(name)) throw new Error(`graph ${this.name}: ${where} name '${name}' is already used`);
    this.valueNames.add(name);
    return { name, dtype, shape: [...shape] };
  }

  /** A graph input; dims are sizes or symbolic names ('B', 'T'). */
  input(name: string, dtype: DType, dims: Shape): Value {
    const v = this.declare(name, dtype, dims, 'input');
    this.inputs.push(v);
    return v;
  }

  /** A named initializer (weights baked into the model). */
  initializer(name: string, data: TensorData, dims: readonly number[], dtype?: DType): Value {
    const count = dims.reduce((n, d) => n * d, 1);
    if (data.length !== count) throw new Error(`graph ${this.name}: initializer '${name}' has ${data.length} elements, dims [${dims}] need ${count}`);
    const v = this.declare(name, dtypeOf(data, dtype), dims, 'initializer');
    this.initializers.push({ value: v, data });
    return v;
  }

  /** An anonymous constant; small ones are shared (one 'const/…' initializer per distinct value). */
  constant(data: TensorData, dims: readonly number[], dtype?: DType): Value {
    const type = dtypeOf(data, dtype);
    const values = Array.from(data as ArrayLike<number | bigint>);
    const key = data.length <= 16 ? `${type}[${dims}]=${values.join(',')}` : null;
    const cached = key === null ? undefined : this.constants.get(key);
    if (cached) return cached;
    const label = data.length <= 4 ? `const/${type}/${values.join('_')}` : [...this.scopes, 'const'].join('/');
    const v = this.initializer(this.freeValueName(label), data, dims, type);
    if (key !== null) this.constants.set(key, v);
    return v;
  }

  /** A scalar constant of `dtype`. */
  scalar(value: number, dtype: DType): Value {
    switch (dtype) {
      case 'float32':
        return this.constant(Float32Array.of(value), []);
      case 'float64':
        return this.constant(Float64Array.of(value), []);
      case 'int64':
        return this.constant(BigInt64Array.of(BigInt(value)), []);
      case 'int32':
        return this.constant(Int32Array.of(value), []);
      default:
        throw new Error(`graph ${this.name}: no scalar constants of ${dtype}; pass a Value`);
    }
  }

  /** int64 vector constant (axes, shapes, pads). */
  ints(values: readonly number[]): Value {
    const bad = values.find((v) => !Number.isSafeInteger(v));
    if (bad !== undefined) throw new Error(`graph ${this.name}: ${bad} is not a safe integer (use END from shape.ts for open slice ends)`);
    return this.constant(BigInt64Array.from(values, (v) => BigInt(v)), [values.length]);
  }

  /**
   * Mark `value` as a graph output called `name`. A node's output is renamed in place (so
   * `value.name` becomes `name`): an Identity node would be kept by ORT and, lacking a WebGPU
   * kernel, run on the CPU. Inputs, initializers and values already output get an Identity.
   */
  output(value: Value, name: string): Value {
    const node = this.producers.get(value.name);
    if (node && !this.outputs.includes(value)) {
      if (name !== value.name) {
        if (this.valueNames.has(name)) throw new Error(`graph ${this.name}: output name '${name}' is already used`);
        this.valueNames.delete(value.name);
        this.producers.delete(value.name);
        this.valueNames.add(name);
        this.producers.set(name, node);
        (value as { name: string }).name = name;
      }
      this.outputs.push(value);
      return value;
    }
    const [out] = this.emit({ name: this.nodeName(`output/${name}`), opType: 'Identity', op: 'Identity', args: [value], outputs: [value], outputNames: [name], params: {} });
    this.outputs.push(out!);
    return out!;
  }

  /**
   * Any other ONNX op (forward only: grad() fails on it). Output types are the caller's promise;
   * a non-default domain (e.g. 'com.microsoft') is imported at version 1.
   */
  custom(
    opType: string,
    inputs: readonly (Value | null)[],
    outputs: readonly { dtype: DType; shape: Shape }[],
    attributes: readonly AttributeMessage[] = [],
    domain = '',
  ): Value[] {
    if (domain && !this.domains.has(domain)) this.domains.set(domain, 1);
    const args = inputs.filter((v): v is Value => v !== null);
    return this.emit({ name: this.nodeName(opType), opType, op: null, domain, args, inputs, outputs, attributes, params: {} });
  }

  /** Append a node whose name came from nodeName(); its outputs are named after it. */
  protected emit(spec: {
    name: string;
    opType: string;
    op: OpName | null;
    domain?: string;
    args: readonly Value[];
    inputs?: readonly (Value | null)[];
    outputs: readonly { dtype: DType; shape: Shape }[];
    outputNames?: readonly string[];
    attributes?: readonly AttributeMessage[];
    params: unknown;
  }): Value[] {
    const inputs = spec.inputs ?? spec.args;
    for (const v of inputs) if (v && !this.valueNames.has(v.name)) throw new Error(`graph ${this.name}: node ${spec.name} reads '${v.name}', which is not in this graph`);
    const outputs = spec.outputs.map((t, i) => {
      const name = spec.outputNames?.[i] ?? this.freeValueName(spec.outputs.length === 1 ? spec.name : `${spec.name}:${i}`);
      return this.declare(name, t.dtype, t.shape, `node ${spec.name} output`);
    });
    const node: Node = {
      name: spec.name,
      op: spec.op,
      opType: spec.opType,
      domain: spec.domain ?? '',
      args: spec.args,
      inputs,
      outputs,
      attributes: spec.attributes ?? [],
      params: spec.params,
    };
    this.nodes.push(node);
    for (const o of outputs) this.producers.set(o.name, node);
    return outputs;
  }

  /** Serialized ModelProto (IR 8, opset 17). */
  toBytes(): Uint8Array {
    const tensor = ({ value, data }: { value: Value; data: TensorData }): TensorMessage => ({
      name: value.name,
      dims: value.shape as number[],
      dtype: value.dtype,
      raw: littleEndianBytes(data),
    });
    const nodes: NodeMessage[] = this.nodes.map((n) => ({
      name: n.name,
      opType: n.opType,
      domain: n.domain,
      inputs: n.inputs.map((v) => v?.name ?? ''),
      outputs: n.outputs.map((v) => v.name),
      attributes: n.attributes,
    }));
    const info = (v: Value) => ({ name: v.name, dtype: v.dtype, dims: v.shape.map((d: Dim) => (typeof d === 'string' && d.startsWith('?') ? `unk${d.slice(1)}` : d)) });
    return encodeModel({
      irVersion: IR_VERSION,
      opsets: [...this.domains].map(([domain, version]) => ({ domain, version })),
      producer: 'qmd-lab',
      graph: {
        name: this.name,
        nodes,
        initializers: this.initializers.map(tensor),
        inputs: this.inputs.map(info),
        outputs: this.outputs.map(info),
      },
    });
  }
}

function littleEndianBytes(data: TensorData): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  // Every platform ORT runs on is little-endian; this guards the assumption rather than converting.
  if (new Uint8Array(Uint16Array.of(1).buffer)[0] !== 1) throw new Error('graph.ts: big-endian hosts are not supported');
  return bytes;
}
