// Reverse-mode autodiff over a Graph: one generic walk, the per-op rules live in rules.ts.
import { isFloat, type Node, type Value } from './graph.ts';
import type { Graph } from './ops.ts';
import { rules, type Rule } from './rules.ts';

/**
 * Append the backward pass of `loss` to `g` and return d loss / d w for each w of `wrt`.
 * `seed` is the gradient of `loss` itself (default: ones, i.e. the gradient of sum(loss)).
 * Backward nodes are named 'grad/<forward node>/…'. Only floating tensors reachable from
 * `wrt` get gradients, so frozen weights cost no backward MatMuls.
 */
function ones(g: Graph, like: Value): Value {
  const one = g.scalar(1, like.dtype);
  return like.shape.length ? g.scope('grad', () => g.expandLike(one, like)) : one;
}

export interface GradOptions {
  /**
   * Forward nodes whose outputs the backward makes again where it reads them, instead of
   * keeping them alive from the forward: cheap ops of inputs, such as the float32 cast of a
   * float16 weight. A copy is made for each backward node that has the value as an operand,
   * so pick values whose consumers' rules read them (a MatMul's or Mul's other operand), or
   * the copy is a dead node. ORT's common-subexpression elimination merges a copy back into
   * the original unless the session disables it.
   */
  recompute?: (node: Node) => boolean;
}

export function grad(g: Graph, loss: Value, wrt: readonly Value[], seed?: Value, options: GradOptions = {}): Value[] {
  const depends = new Set(wrt.map((w) => w.name));
  const producers = new Map(g.nodes.flatMap((n) => n.outputs.map((o) => [o.name, n] as const)));
  const again = (v: Value): Value => {
    const made = producers.get(v.name);
    return made?.op && options.recompute?.(made) ? g.apply(made.op, made.args, made.params as never) : v;
  };
  for (const node of g.nodes) {
    if (node.op === 'StopGradient') continue;
    if (node.args.some((a) => depends.has(a.name))) for (const o of node.outputs) if (isFloat(o.dtype)) depends.add(o.name);
  }
  const grads = new Map<string, Value>([[loss.name, seed ?? ones(g, loss)]]);
  for (const node of [...g.nodes].reverse()) {
    const gy = grads.get(node.outputs[0]!.name);
    if (!gy || !node.args.some((a) => depends.has(a.name))) continue;
    const rule = node.op && (rules[node.op] as Rule<unknown>);
    if (!rule?.vjp) throw new Error(`grad: no gradient rule for op ${node.opType} (node ${node.name}) on the path from the loss to the targets`);
    const needs = node.args.map((a) => depends.has(a.name));
    const gx = g.scope(`grad/${node.name}`, () => rule.vjp!({ g, node, args: node.args.map(again), out: node.outputs[0]!, gy, p: node.params, needs }));
    node.args.forEach((a, i) => {
      const d = gx[i];
      if (!needs[i] || !d) return;
      const prev = grads.get(a.name);
      grads.set(a.name, prev ? g.scope(`grad/${a.name}`, () => g.add(prev, d)) : d);
    });
  }
  return wrt.map((w) => {
    const d = grads.get(w.name);
    if (!d) throw new Error(`grad: the loss '${loss.name}' does not depend on '${w.name}'`);
    return d;
  });
}
