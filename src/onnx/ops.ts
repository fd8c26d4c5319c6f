// The typed builder: one method per op of rules.ts, plus compositions that keep graphs on
// WebGPU-friendly ops (design.md "Pitfalls": no LogSoftmax, no variadic Sum).
import { GraphCore, type Value } from './graph.ts';
import type { DType } from './proto.ts';
import { rules, type OpName, type OpParams, type Rule } from './rules.ts';
import { axes as normAxes, axis as normAxis } from './shape.ts';

/** A tensor, or a number that becomes a scalar constant of the other operand's dtype. */
export type Operand = Value | number;

export class Graph extends GraphCore {
  /** Emit op `op` of rules.ts with its static params; returns its (single) output. */
  apply<K extends OpName>(op: K, args: readonly Value[], params: OpParams[K]): Value {
    const rule = rules[op] as Rule<OpParams[K]>;
    const name = this.nodeName(op);
    const type = rule.infer(args, params, `node ${name}`);
    const lowered = rule.lower?.(this, args, params) ?? { inputs: args };
    return this.emit({ name, opType: rule.opType ?? op, op, args, inputs: lowered.inputs, outputs: [type], attributes: lowered.attributes, params })[0]!;
  }

  private values(...operands: Operand[]): Value[] {
    const typed = operands.find((o): o is Value => typeof o !== 'number');
    if (!typed) throw new Error(`graph ${this.name}: at least one operand must be a tensor`);
    return operands.map((o) => (typeof o === 'number' ? this.scalar(o, typed.dtype) : o));
  }

  private rank(x: Value): number {
    return x.shape.length;
  }

  add(a: Operand, b: Operand): Value {
    return this.apply('Add', this.values(a, b), {});
  }
  sub(a: Operand, b: Operand): Value {
    return this.apply('Sub', this.values(a, b), {});
  }
  mul(a: Operand, b: Operand): Value {
    return this.apply('Mul', this.values(a, b), {});
  }
  div(a: Operand, b: Operand): Value {
    return this.apply('Div', this.values(a, b), {});
  }
  /** x^e; gradients flow to x only (the exponent must not depend on grad() targets). */
  pow(x: Value, e: Operand): Value {
    return this.apply('Pow', this.values(x, e), {});
  }
  equal(a: Operand, b: Operand): Value {
    return this.apply('Equal', this.values(a, b), {});
  }
  less(a: Operand, b: Operand): Value {
    return this.apply('Less', this.values(a, b), {});
  }
  greater(a: Operand, b: Operand): Value {
    return this.apply('Greater', this.values(a, b), {});
  }
  /** cond ? a : b, broadcasting all three. */
  where(cond: Value, a: Operand, b: Operand): Value {
    return this.apply('Where', [cond, ...this.values(a, b)], {});
  }

  neg(x: Value): Value {
    return this.apply('Neg', [x], {});
  }
  sqrt(x: Value): Value {
    return this.apply('Sqrt', [x], {});
  }
  reciprocal(x: Value): Value {
    return this.apply('Reciprocal', [x], {});
  }
  exp(x: Value): Value {
    return this.apply('Exp', [x], {});
  }
  log(x: Value): Value {
    return this.apply('Log', [x], {});
  }
  sigmoid(x: Value): Value {
    return this.apply('Sigmoid', [x], {});
  }
  sin(x: Value): Value {
    return this.apply('Sin', [x], {});
  }
  cos(x: Value): Value {
    return this.apply('Cos', [x], {});
  }
  identity(x: Value): Value {
    return this.apply('Identity', [x], {});
  }
  /** Identity in the forward pass; grad() sends nothing back through it. */
  stopGradient(x: Value): Value {
    return this.apply('StopGradient', [x], {});
  }
  cast(x: Value, to: DType): Value {
    return this.apply('Cast', [x], { to });
  }
  softmax(x: Value, axis = -1): Value {
    return this.apply('Softmax', [x], { axis: normAxis(axis, this.rank(x), 'Softmax') });
  }

  private reduction(x: Value, axes: readonly number[], keepdims: boolean, op: string) {
    // ONNX reads empty axes as "all axes"; requiring them explicitly keeps shape inference honest.
    if (!axes.length && this.rank(x)) throw new Error(`${op}: give the axes to reduce for [${x.shape}]`);
    return { axes: normAxes(axes, this.rank(x), op), keepdims };
  }

  reduceSum(x: Value, axes: readonly number[], keepdims = false): Value {
    return this.apply('ReduceSum', [x], this.reduction(x, axes, keepdims, 'ReduceSum'));
  }
  reduceMean(x: Value, axes: readonly number[], keepdims = false): Value {
    return this.apply('ReduceMean', [x], this.reduction(x, axes, keepdims, 'ReduceMean'));
  }
  reduceMax(x: Value, axes: readonly number[], keepdims = false): Value {
    return this.apply('ReduceMax', [x], this.reduction(x, axes, keepdims, 'ReduceMax'));
  }

  /** Batched matrix product, [.., M, K] × [.., K, N] → [.., M, N] with broadcast batch axes. */
  matMul(a: Value, b: Value): Value {
    return this.apply('MatMul', [a, b], {});
  }
  /** Default perm reverses the axes. */
  transpose(x: Value, perm?: readonly number[]): Value {
    const rank = this.rank(x);
    const p = perm ? perm.map((a) => normAxis(a, rank, 'Transpose')) : [...Array(rank).keys()].reverse();
    if (p.length !== rank || new Set(p).size !== rank) throw new Error(`Transpose: perm [${perm}] is not a permutation of rank ${rank}`);
    return this.apply('Transpose', [x], { perm: p });
  }
  /** ONNX Reshape: 0 copies the input size at that axis, -1 is inferred. */
  reshape(x: Value, dims: readonly number[]): Value {
    return this.apply('Reshape', [x], { shape: [...dims] });
  }
  /** Reshape to the runtime shape of `like`. */
  reshapeLike(x: Value, like: Value): Value {
    return this.apply('ReshapeLike', [x, like], {});
  }
  /** Broadcast to `dims` (numpy rules; 1 keeps the input's size). */
  expand(x: Value, dims: readonly number[]): Value {
    return this.apply('Expand', [x], { shape: [...dims] });
  }
  /** Broadcast to the runtime shape of `like`. */
  expandLike(x: Value, like: Value): Value {
    return this.apply('ExpandLike', [x, like], {});
  }
  /** Runtime shape, int64 [rank]. */
  shape(x: Value): Value {
    return this.apply('Shape', [x], {});
  }
  unsqueeze(x: Value, axes: readonly number[]): Value {
    return this.apply('Unsqueeze', [x], { axes: normAxes(axes, this.rank(x) + axes.length, 'Unsqueeze') });
  }
  squeeze(x: Value, axes: readonly number[]): Value {
    return this.apply('Squeeze', [x], { axes: normAxes(axes, this.rank(x), 'Squeeze') });
  }
  /** x[starts:ends:steps] on `axes` (default 0..n-1); ends may be END (shape.ts) for "to the end". */
  slice(x: Value, starts: readonly number[], ends: readonly number[], axes?: readonly number[], steps?: readonly number[]): Value {
    const on = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(a, this.rank(x), 'Slice'));
    if (starts.length !== on.length || ends.length !== on.length || (steps && steps.length !== on.length)) {
      throw new Error(`Slice: starts, ends, axes and steps must have one entry per sliced axis`);
    }
    return this.apply('Slice', [x], { starts: [...starts], ends: [...ends], axes: on, steps: steps ? [...steps] : on.map(() => 1) });
  }
  /** Zero padding; pads = [begin of each axis…, end of each axis…], all ≥ 0. */
  pad(x: Value, pads: readonly number[]): Value {
    if (pads.length !== 2 * this.rank(x) || pads.some((p) => p < 0 || !Number.isInteger(p))) {
      throw new Error(`Pad: pads [${pads}] must be ${2 * this.rank(x)} non-negative integers for rank ${this.rank(x)}`);
    }
    return this.apply('Pad', [x], { pads: [...pads] });
  }
  concat(values: readonly Value[], axis: number): Value {
    return this.apply('Concat', values, { axis: normAxis(axis, this.rank(values[0]!), 'Concat') });
  }
  /** data[..., indices, ...] along `axis` (embedding lookup); no gradient to data. */
  gather(data: Value, indices: Value, axis = 0): Value {
    return this.apply('Gather', [data, indices], { axis: normAxis(axis, this.rank(data), 'Gather') });
  }
  /** out[i][j] = data[i][indices[i][j]] (for axis 1): picks label logits. */
  gatherElements(data: Value, indices: Value, axis: number): Value {
    return this.apply('GatherElements', [data, indices], { axis: normAxis(axis, this.rank(data), 'GatherElements') });
  }
  /** [start, start + delta, …) below `limit`, as a 1-D tensor of `dtype`. */
  range(start: number, limit: number, dtype: DType, delta = 1): Value {
    return this.apply('Range', [this.scalar(start, dtype)], { start, limit, delta });
  }

  /** log(softmax(x)) from ReduceMax/Sub/Exp/ReduceSum/Log (LogSoftmax runs on CPU under WebGPU). */
  logSoftmax(x: Value, axis = -1): Value {
    return this.scope('LogSoftmax', () => {
      // The max only stabilizes: its gradient cancels exactly, so none is sent through it.
      const shifted = this.sub(x, this.stopGradient(this.reduceMax(x, [axis], true)));
      return this.sub(shifted, this.log(this.reduceSum(this.exp(shifted), [axis], true)));
    });
  }
  /** x · sigmoid(x). */
  silu(x: Value): Value {
    return this.scope('Silu', () => this.mul(x, this.sigmoid(x)));
  }
}
