// How much memory a graph's intermediate values need if its nodes run in the order they were
// built: each value is allocated when its node runs and freed after its last reader (graph
// outputs live to the end). Reshape-like ops alias their input, as runtimes implement them, so
// they cost nothing and extend the buffer's life. Graph inputs (weights, the batch) and
// initializers are not counted: they are resident whatever the plan. Runtimes reorder and
// share buffers, so this is an estimate of the plan's peak, not a measurement; its value is
// in saying which tensors are alive at the peak and what the backward pass keeps.
import type { GraphCore, Value } from './graph.ts';
import { numel } from './shape.ts';

const elementBytes = { float32: 4, float16: 2, float64: 8, int32: 4, int64: 8, bool: 1, uint8: 1 } as const;
/** Ops whose output is their first input's buffer under another shape. */
const aliases = new Set(['Reshape', 'ReshapeLike', 'Squeeze', 'Unsqueeze', 'Identity', 'StopGradient']);

export interface LiveValue {
  name: string;
  /** The node that made it. */
  node: string;
  shape: readonly number[];
  bytes: number;
}

export interface Liveness {
  /** The most bytes of intermediates alive at once. */
  peakBytes: number;
  /** The node that was running when the peak was reached. */
  peakNode: string;
  /** Every buffer alive at the peak, largest first. */
  atPeak: LiveValue[];
  /** Buffers made by the forward pass and still read by a node of `backward` (the activations it keeps). */
  kept: LiveValue[];
  /** Every buffer with the index of the node that made it and of its last reader (graph outputs: the node count), in build order. */
  lifetimes: { bytes: number; born: number; last: number }[];
}

/**
 * `backward(node)`: whether a node belongs to the backward pass (grad() names them 'grad/…').
 * Throws naming the value when a shape is symbolic: a peak needs static shapes.
 */
export function liveness(g: GraphCore, backward: (nodeName: string) => boolean = (n) => n.startsWith('grad/')): Liveness {
  const root = new Map<string, string>(); // value → the buffer it is
  const buffers = new Map<string, LiveValue & { last: number; backwardReader: boolean }>();
  const sizeOf = (v: Value) => {
    if (!v.shape.every((d) => typeof d === 'number')) throw new Error(`liveness: ${v.name} has symbolic shape [${v.shape.join(', ')}]; a peak needs static shapes`);
    return { shape: v.shape as number[], bytes: numel(v.shape as number[]) * elementBytes[v.dtype] };
  };
  g.nodes.forEach((node, i) => {
    node.inputs.forEach((v) => {
      const buffer = v && buffers.get(root.get(v.name) ?? '');
      if (!buffer) return;
      buffer.last = i;
      if (backward(node.name) && !backward(buffer.node)) buffer.backwardReader = true;
    });
    const first = node.inputs[0];
    node.outputs.forEach((out) => {
      if (first && aliases.has(node.op ?? node.opType)) {
        const buffer = root.get(first.name);
        if (buffer) root.set(out.name, buffer); // else an alias of an input: resident, not counted
        return;
      }
      root.set(out.name, out.name);
      buffers.set(out.name, { name: out.name, node: node.name, ...sizeOf(out), last: i, backwardReader: false });
    });
  });
  for (const out of g.outputs) {
    const buffer = buffers.get(root.get(out.name) ?? '');
    if (buffer) buffer.last = g.nodes.length;
  }
  const freedAt = new Map<number, number>();
  for (const b of buffers.values()) freedAt.set(b.last, (freedAt.get(b.last) ?? 0) + b.bytes);
  let live = 0;
  let peak = { bytes: 0, at: -1 };
  const born = new Map<string, number>();
  g.nodes.forEach((node, i) => {
    for (const out of node.outputs) {
      const buffer = buffers.get(out.name);
      if (buffer) {
        live += buffer.bytes;
        born.set(out.name, i);
      }
    }
    if (live > peak.bytes) peak = { bytes: live, at: i };
    live -= freedAt.get(i) ?? 0;
  });
  const strip = ({ name, node, shape, bytes }: LiveValue): LiveValue => ({ name, node, shape, bytes });
  const largest = (a: LiveValue, b: LiveValue) => b.bytes - a.bytes;
  const all = [...buffers.values()];
  return {
    peakBytes: peak.bytes,
    peakNode: g.nodes[peak.at]?.name ?? '',
    atPeak: all.filter((b) => born.get(b.name)! <= peak.at && b.last >= peak.at).map(strip).sort(largest),
    kept: all.filter((b) => b.backwardReader).map(strip).sort(largest),
    lifetimes: all.map((b) => ({ bytes: b.bytes, born: born.get(b.name)!, last: b.last })),
  };
}
