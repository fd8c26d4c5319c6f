// The op table: for each op, its forward (output type inference + lowering to ONNX opset 17)
// beside its vector-Jacobian product. Adding an op = one entry here + one method in ops.ts +
// one finite-difference test in rules.test.ts. A VJP returns one gradient per arg, null for
// args that need none (c.needs[i] false) or are not differentiable (indices, conditions).
import type { Graph } from './ops.ts';
import { isFloat, type Node, type Value } from './graph.ts';
import { dataTypeCode, type AttributeMessage, type DType } from './proto.ts';
import * as S from './shape.ts';

export interface TypeInfo {
  dtype: DType;
  shape: S.Shape;
}

export interface VjpContext<P> {
  g: Graph;
  node: Node;
  args: readonly Value[];
  out: Value;
  /** Gradient of the loss with respect to `out`. */
  gy: Value;
  p: P;
  needs: readonly boolean[];
}

export interface Rule<P> {
  /** ONNX op_type when it differs from the table key. */
  opType?: string;
  infer(args: readonly Value[], p: P, where: string): TypeInfo;
  lower?(g: Graph, args: readonly Value[], p: P): { inputs: readonly Value[]; attributes?: AttributeMessage[] };
  vjp?(c: VjpContext<P>): readonly (Value | null)[];
}

type None = Record<string, never>;
interface Reduce {
  axes: number[]; // normalized, sorted
  keepdims: boolean;
}
export interface OpParams {
  Add: None;
  Sub: None;
  Mul: None;
  Div: None;
  Pow: None;
  Equal: None;
  Less: None;
  Greater: None;
  Neg: None;
  Sqrt: None;
  Reciprocal: None;
  Exp: None;
  Log: None;
  Sigmoid: None;
  Sin: None;
  Cos: None;
  Identity: None;
  StopGradient: None;
  Cast: { to: DType };
  Softmax: { axis: number };
  ReduceSum: Reduce;
  ReduceMean: Reduce;
  ReduceMax: Reduce;
  MatMul: None;
  Transpose: { perm: number[] };
  Reshape: { shape: number[] };
  ReshapeLike: None;
  Expand: { shape: number[] };
  ExpandLike: None;
  Shape: None;
  Unsqueeze: { axes: number[] };
  Squeeze: { axes: number[] };
  Slice: { starts: number[]; ends: number[]; axes: number[]; steps: number[] };
  Pad: { pads: number[] };
  Concat: { axis: number };
  Gather: { axis: number };
  GatherElements: { axis: number };
  Range: { start: number; limit: number; delta: number };
  Where: None;
}
export type OpName = keyof OpParams;

const int = (name: string, value: number): AttributeMessage => ({ name, type: 'int', value });
const ints = (name: string, value: readonly number[]): AttributeMessage => ({ name, type: 'ints', value });
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const sameShape = (a: S.Shape, b: S.Shape) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Gradients for the args that need one: fns[i] runs only when c.needs[i]. */
function pick(needs: readonly boolean[], ...fns: ((() => Value) | null)[]): (Value | null)[] {
  return fns.map((f, i) => (needs[i] && f ? f() : null));
}

/** Sum `gy` (shaped like a broadcast result) down to the shape of operand `x`. */
function unbroadcast(g: Graph, gy: Value, x: Value, where: string): Value {
  if (sameShape(gy.shape, x.shape)) return gy;
  const { lead, keep } = S.broadcastAxes(x.shape, gy.shape, where);
  const summed = lead + keep.length ? g.reduceSum(gy, [...range(lead), ...keep], true) : gy;
  return lead ? g.squeeze(summed, range(lead)) : summed;
}

/** `v` broadcast to the shape of `like` (static Expand when possible). */
function broadcastTo(g: Graph, v: Value, like: Value): Value {
  return S.isStatic(like.shape) ? g.expand(v, like.shape) : g.expandLike(v, like);
}

function reshapeTo(g: Graph, v: Value, like: Value): Value {
  return S.isStatic(like.shape) ? g.reshape(v, like.shape) : g.reshapeLike(v, like);
}

/** The reduced gradient given back its reduced axes (keepdims form), ready to broadcast. */
function unreduce(g: Graph, gy: Value, p: Reduce): Value {
  return p.keepdims ? gy : g.unsqueeze(gy, p.axes);
}

function same(args: readonly Value[], where: string): DType {
  const dtype = args[0]!.dtype;
  const other = args.find((a) => a.dtype !== dtype);
  if (other) throw new Error(`${where}: operands differ in dtype (${args.map((a) => `${a.name}: ${a.dtype}`).join(', ')})`);
  return dtype;
}

const elementwise = (args: readonly Value[], _p: unknown, where: string): TypeInfo => ({ dtype: same(args, where), shape: S.broadcast(args.map((a) => a.shape), where) });
const compare = (args: readonly Value[], p: unknown, where: string): TypeInfo => ({ ...elementwise(args, p, where), dtype: 'bool' });
const unary = ([x]: readonly Value[]): TypeInfo => ({ dtype: x!.dtype, shape: x!.shape });
const reduced = ([x]: readonly Value[], p: Reduce): TypeInfo => ({
  dtype: x!.dtype,
  shape: x!.shape.flatMap((d, i) => (p.axes.includes(i) ? (p.keepdims ? [1] : []) : [d])),
});

export const rules: { [K in OpName]: Rule<OpParams[K]> } = {
  Add: {
    infer: elementwise,
    vjp: ({ g, gy, args: [a, b], node, needs }) => pick(needs, () => unbroadcast(g, gy, a!, node.name), () => unbroadcast(g, gy, b!, node.name)),
  },
  Sub: {
    infer: elementwise,
    vjp: ({ g, gy, args: [a, b], node, needs }) => pick(needs, () => unbroadcast(g, gy, a!, node.name), () => unbroadcast(g, g.neg(gy), b!, node.name)),
  },
  Mul: {
    infer: elementwise,
    vjp: ({ g, gy, args: [a, b], node, needs }) =>
      pick(needs, () => unbroadcast(g, g.mul(gy, b!), a!, node.name), () => unbroadcast(g, g.mul(gy, a!), b!, node.name)),
  },
  Div: {
    infer: elementwise,
    vjp: ({ g, gy, args: [a, b], out, node, needs }) =>
      pick(needs, () => unbroadcast(g, g.div(gy, b!), a!, node.name), () => unbroadcast(g, g.neg(g.div(g.mul(gy, out), b!)), b!, node.name)), // d(a/b)/db = −y/b
  },
  Pow: {
    infer: elementwise,
    vjp: ({ g, gy, args: [x, e], node, needs }) => {
      if (needs[1]) throw new Error(`${node.name}: Pow has no gradient rule for its exponent; use a constant exponent`);
      return pick(needs, () => unbroadcast(g, g.mul(gy, g.mul(e!, g.pow(x!, g.sub(e!, 1)))), x!, node.name), null);
    },
  },
  Equal: { infer: compare },
  Less: { infer: compare },
  Greater: { infer: compare },
  Neg: { infer: unary, vjp: ({ g, gy }) => [g.neg(gy)] },
  Sqrt: { infer: unary, vjp: ({ g, gy, out }) => [g.div(g.mul(gy, 0.5), out)] },
  Reciprocal: { infer: unary, vjp: ({ g, gy, out }) => [g.neg(g.mul(gy, g.mul(out, out)))] },
  Exp: { infer: unary, vjp: ({ g, gy, out }) => [g.mul(gy, out)] },
  Log: { infer: unary, vjp: ({ g, gy, args: [x] }) => [g.div(gy, x!)] },
  Sigmoid: { infer: unary, vjp: ({ g, gy, out }) => [g.mul(gy, g.mul(out, g.sub(1, out)))] },
  Sin: { infer: unary, vjp: ({ g, gy, args: [x] }) => [g.mul(gy, g.cos(x!))] },
  Cos: { infer: unary, vjp: ({ g, gy, args: [x] }) => [g.neg(g.mul(gy, g.sin(x!)))] },
  Identity: { infer: unary, vjp: ({ gy }) => [gy] },
  StopGradient: { opType: 'Identity', infer: unary, vjp: () => [null] },
  Cast: {
    infer: ([x], p) => ({ dtype: p.to, shape: x!.shape }),
    lower: (_g, args, p) => ({ inputs: args, attributes: [int('to', dataTypeCode[p.to])] }),
    vjp: ({ g, gy, args: [x] }) => [isFloat(x!.dtype) && isFloat(gy.dtype) ? g.cast(gy, x!.dtype) : null],
  },
  Softmax: {
    infer: unary,
    lower: (_g, args, p) => ({ inputs: args, attributes: [int('axis', p.axis)] }),
    vjp: ({ g, gy, out, p }) => [g.mul(out, g.sub(gy, g.reduceSum(g.mul(gy, out), [p.axis], true)))], // y ⊙ (gy − Σ gy ⊙ y)
  },
  ReduceSum: {
    infer: reduced,
    lower: (g, [x], p) => ({ inputs: [x!, g.ints(p.axes)], attributes: [int('keepdims', +p.keepdims)] }),
    vjp: ({ g, gy, args: [x], p }) => [broadcastTo(g, unreduce(g, gy, p), x!)],
  },
  ReduceMean: {
    infer: reduced,
    lower: (_g, args, p) => ({ inputs: args, attributes: [ints('axes', p.axes), int('keepdims', +p.keepdims)] }),
    vjp: ({ g, gy, args: [x], p }) => {
      // Count of averaged elements; symbolic sizes are read at run time (a few scalar int64 ops).
      const known = S.numel(p.axes.map((a) => x!.shape[a]!).filter((d): d is number => typeof d === 'number'));
      const count = p.axes
        .filter((a) => typeof x!.shape[a] === 'string')
        .reduce<Value | number>((n, a) => {
          const size = g.cast(g.slice(g.shape(x!), [a], [a + 1]), x!.dtype); // [1]
          return n === 1 ? size : g.mul(size, n);
        }, known);
      return [broadcastTo(g, g.div(unreduce(g, gy, p), count), x!)];
    },
  },
  ReduceMax: {
    infer: reduced,
    lower: (_g, args, p) => ({ inputs: args, attributes: [ints('axes', p.axes), int('keepdims', +p.keepdims)] }),
    vjp: ({ g, gy, out, args: [x], p }) => {
      const hit = g.cast(g.equal(x!, unreduce(g, out, p)), x!.dtype); // ties share the gradient equally
      return [g.mul(g.div(hit, g.reduceSum(hit, p.axes, true)), unreduce(g, gy, p))];
    },
  },
  MatMul: {
    infer: ([a, b], _p, where) => {
      if (a!.shape.length < 2 || b!.shape.length < 2) throw new Error(`${where}: MatMul needs operands of rank ≥ 2, got [${a!.shape}] and [${b!.shape}]`);
      const [k1, k2] = [a!.shape.at(-1)!, b!.shape.at(-2)!];
      if (k1 !== k2 && typeof k1 === 'number' && typeof k2 === 'number') throw new Error(`${where}: MatMul inner sizes differ: [${a!.shape}] × [${b!.shape}]`);
      const batch = S.broadcast([a!.shape.slice(0, -2), b!.shape.slice(0, -2)], where);
      return { dtype: same([a!, b!], where), shape: [...batch, a!.shape.at(-2)!, b!.shape.at(-1)!] };
    },
    vjp: ({ g, gy, args: [a, b], node, needs }) => {
      const swap = (v: Value) => g.transpose(v, [...range(v.shape.length - 2), v.shape.length - 1, v.shape.length - 2]);
      const [k, n] = [b!.shape.at(-2)!, b!.shape.at(-1)!];
      // [.., M, K] × [K, N]: fold the batch into M so dB is one [K, M'] × [M', N] product.
      const foldedB = () => g.matMul(swap(g.reshape(a!, [-1, k as number])), g.reshape(gy, [-1, n as number]));
      const flat = b!.shape.length === 2 && a!.shape.length > 2 && typeof k === 'number' && typeof n === 'number';
      return pick(needs, () => unbroadcast(g, g.matMul(gy, swap(b!)), a!, node.name), () => (flat ? foldedB() : unbroadcast(g, g.matMul(swap(a!), gy), b!, node.name)));
    },
  },
  Transpose: {
    infer: ([x], p) => ({ dtype: x!.dtype, shape: p.perm.map((i) => x!.shape[i]!) }),
    lower: (_g, args, p) => ({ inputs: args, attributes: [ints('perm', p.perm)] }),
    vjp: ({ g, gy, p }) => [g.transpose(gy, p.perm.map((_, i) => p.perm.indexOf(i)))],
  },
  Reshape: {
    infer: ([x], p, where) => ({ dtype: x!.dtype, shape: S.reshape(x!.shape, p.shape, where) }),
    lower: (g, [x], p) => ({ inputs: [x!, g.ints(p.shape)] }),
    vjp: ({ g, gy, args: [x] }) => [reshapeTo(g, gy, x!)],
  },
  ReshapeLike: {
    opType: 'Reshape',
    infer: ([x, like]) => ({ dtype: x!.dtype, shape: like!.shape }),
    lower: (g, [x, like]) => ({ inputs: [x!, g.shape(like!)] }),
    vjp: ({ g, gy, args: [x], needs }) => pick(needs, () => reshapeTo(g, gy, x!), null),
  },
  Expand: {
    infer: ([x], p, where) => ({ dtype: x!.dtype, shape: S.broadcast([x!.shape, p.shape], where) }),
    lower: (g, [x], p) => ({ inputs: [x!, g.ints(p.shape)] }),
    vjp: ({ g, gy, args: [x], node }) => [unbroadcast(g, gy, x!, node.name)],
  },
  ExpandLike: {
    opType: 'Expand',
    infer: ([x, like], _p, where) => ({ dtype: x!.dtype, shape: S.broadcast([x!.shape, like!.shape], where) }),
    lower: (g, [x, like]) => ({ inputs: [x!, g.shape(like!)] }),
    vjp: ({ g, gy, args: [x], node, needs }) => pick(needs, () => unbroadcast(g, gy, x!, node.name), null),
  },
  Shape: { infer: ([x]) => ({ dtype: 'int64', shape: [x!.shape.length] }) },
  Unsqueeze: {
    infer: ([x], p) => {
      const shape: S.Dim[] = [...x!.shape];
      for (const a of p.axes) shape.splice(a, 0, 1);
      return { dtype: x!.dtype, shape };
    },
    lower: (g, [x], p) => ({ inputs: [x!, g.ints(p.axes)] }),
    vjp: ({ g, gy, p }) => [g.squeeze(gy, p.axes)],
  },
  Squeeze: {
    infer: ([x], p, where) => {
      const bad = p.axes.find((a) => typeof x!.shape[a] === 'number' && x!.shape[a] !== 1);
      if (bad !== undefined) throw new Error(`${where}: cannot squeeze axis ${bad} of [${x!.shape}]`);
      return { dtype: x!.dtype, shape: x!.shape.filter((_, i) => !p.axes.includes(i)) };
    },
    lower: (g, [x], p) => ({ inputs: [x!, g.ints(p.axes)] }),
    vjp: ({ g, gy, p }) => [g.unsqueeze(gy, p.axes)],
  },
  Slice: {
    infer: ([x], p) => {
      const shape: S.Dim[] = [...x!.shape];
      p.axes.forEach((a, i) => (shape[a] = S.sliceLength(shape[a]!, p.starts[i]!, p.ends[i]!, p.steps[i]!)));
      return { dtype: x!.dtype, shape };
    },
    lower: (g, [x], p) => ({ inputs: [x!, g.ints(p.starts), g.ints(p.ends), g.ints(p.axes), g.ints(p.steps)] }),
    vjp: ({ g, gy, args: [x], p, node }) => {
      const rank = x!.shape.length;
      const pads = new Array<number>(2 * rank).fill(0);
      p.axes.forEach((a, i) => {
        const dim = x!.shape[a]!;
        if (typeof dim !== 'number' || p.steps[i] !== 1) throw new Error(`${node.name}: Slice gradient needs step 1 and a static size on axis ${a} of [${x!.shape}]`);
        const start = Math.min(Math.max(p.starts[i]! < 0 ? p.starts[i]! + dim : p.starts[i]!, 0), dim);
        const end = Math.max(Math.min(p.ends[i]! < 0 ? p.ends[i]! + dim : p.ends[i]!, dim), start);
        pads[a] = start;
        pads[a + rank] = dim - end;
      });
      return [g.pad(gy, pads)];
    },
  },
  Pad: {
    infer: ([x], p) => ({ dtype: x!.dtype, shape: x!.shape.map((d, i) => S.sum(S.sum(p.pads[i]!, d), p.pads[i + x!.shape.length]!)) }),
    lower: (g, [x], p) => ({ inputs: [x!, g.ints(p.pads)] }),
    vjp: ({ g, gy, args: [x], p }) => {
      const rank = x!.shape.length;
      const axes = range(rank).filter((a) => p.pads[a] || p.pads[a + rank]);
      const ends = axes.map((a) => (p.pads[a + rank] ? -p.pads[a + rank]! : S.END));
      return [g.slice(gy, axes.map((a) => p.pads[a]!), ends, axes)];
    },
  },
  Concat: {
    infer: (args, p, where) => {
      const shape: S.Dim[] = [...args[0]!.shape];
      shape[p.axis] = args.slice(1).reduce<S.Dim>((n, a) => S.sum(n, a.shape[p.axis]!), shape[p.axis]!);
      if (args.some((a) => a.shape.length !== shape.length)) throw new Error(`${where}: Concat operands differ in rank: ${args.map((a) => `[${a.shape}]`).join(' ')}`);
      return { dtype: same(args, where), shape };
    },
    lower: (_g, args, p) => ({ inputs: args, attributes: [int('axis', p.axis)] }),
    vjp: (c) => {
      let at = 0;
      return c.args.map((a, i) => {
        const size = a.shape[c.p.axis]!;
        const start = at;
        const last = i === c.args.length - 1;
        if (typeof size !== 'number' && !last) throw new Error(`${c.node.name}: Concat gradient needs static sizes on axis ${c.p.axis} (input ${i} is [${a.shape}])`);
        at += last ? 0 : (size as number);
        return c.needs[i] ? c.g.slice(c.gy, [start], [last ? S.END : at], [c.p.axis]) : null;
      });
    },
  },
  Gather: {
    infer: ([data, idx], p) => ({ dtype: data!.dtype, shape: [...data!.shape.slice(0, p.axis), ...idx!.shape, ...data!.shape.slice(p.axis + 1)] }),
    lower: (_g, args, p) => ({ inputs: args, attributes: [int('axis', p.axis)] }),
    vjp: ({ needs, node }) => {
      if (needs[0]) throw new Error(`${node.name}: Gather has no gradient rule for its data (embeddings are frozen); use GatherElements or a MatMul`);
      return [null, null];
    },
  },
  GatherElements: {
    infer: ([data, idx]) => ({ dtype: data!.dtype, shape: idx!.shape }),
    lower: (_g, args, p) => ({ inputs: args, attributes: [int('axis', p.axis)] }),
    // d data[.., v, ..] = Σ_j gy[.., j, ..]·[idx[.., j, ..] = v]: a one-hot mask from float Equal
    // (ScatterElements and int64 Equal are not on the WebGPU EP); the Cast touches only the indices.
    vjp: ({ g, gy, args: [data, idx], p, node, needs }) =>
      pick(needs, () => {
        const size = data!.shape[p.axis]!;
        const rest = data!.shape.length - p.axis - 1;
        if (typeof size !== 'number' || data!.shape.some((d, i) => i !== p.axis && d !== idx!.shape[i])) {
          throw new Error(`${node.name}: GatherElements gradient needs a static size on axis ${p.axis} and indices [${idx!.shape}] matching data [${data!.shape}] elsewhere`);
        }
        const iota = g.reshape(g.range(0, size, data!.dtype), [size, ...new Array<number>(rest).fill(1)]); // [V, 1, ..]
        const hit = g.equal(g.unsqueeze(g.cast(idx!, data!.dtype), [p.axis + 1]), iota); // [.., k, V, ..]
        const picked = g.where(hit, g.unsqueeze(gy, [p.axis + 1]), 0);
        return idx!.shape[p.axis] === 1 ? g.squeeze(picked, [p.axis]) : g.reduceSum(picked, [p.axis]);
      }, null),
  },
  Range: {
    infer: ([start], p) => ({ dtype: start!.dtype, shape: [Math.max(0, Math.ceil((p.limit - p.start) / p.delta))] }),
    lower: (g, [start], p) => ({ inputs: [start!, g.scalar(p.limit, start!.dtype), g.scalar(p.delta, start!.dtype)] }),
  },
  Where: {
    infer: ([cond, a, b], p, where) => ({ dtype: same([a!, b!], where), shape: elementwise([cond!, a!, b!].map((v) => ({ ...v, dtype: a!.dtype })), p, where).shape }),
    vjp: ({ g, gy, args: [cond, a, b], node, needs }) =>
      pick(needs, null, () => unbroadcast(g, g.where(cond!, gy, 0), a!, node.name), () => unbroadcast(g, g.where(cond!, 0, gy), b!, node.name)),
  },
};
