// Static shape reasoning with symbolic dimensions.
// A Dim is a number or a symbol such as 'T'. Products of symbols are written 'B*T' (sorted
// factors, optional numeric coefficient first: '2*B*T'), sums as 'P+T'; both stay opaque
// names that compare equal only when spelled equal. Unknown results get fresh '?n' symbols.

export type Dim = number | string;
export type Shape = readonly Dim[];

/** Slice end meaning "to the end of the axis" (ONNX clamps ends to the size). */
export const END = Number.MAX_SAFE_INTEGER;

let fresh = 0;
/** A symbol that equals no other: the builder cannot know this dimension statically. */
export function unknownDim(): string {
  return `?${fresh++}`;
}

export function isStatic(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === 'number');
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** Normalize an axis (negative counts from the end) against `rank`; throws naming `where`. */
export function axis(a: number, rank: number, where: string): number {
  const n = a < 0 ? a + rank : a;
  if (!Number.isInteger(n) || n < 0 || n >= rank) throw new Error(`${where}: axis ${a} is out of range for rank ${rank}`);
  return n;
}

export function axes(list: readonly number[], rank: number, where: string): number[] {
  const out = list.map((a) => axis(a, rank, where)).sort((x, y) => x - y);
  if (new Set(out).size !== out.length) throw new Error(`${where}: repeated axis in [${list.join(', ')}]`);
  return out;
}

/** Numpy (multidirectional) broadcasting of shapes; symbols that differ give a symbol naming both. */
export function broadcast(shapes: readonly Shape[], where: string): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let dim: Dim = 1;
    for (const s of shapes) {
      const d = s[i - rank + s.length] ?? 1;
      if (d === 1 || d === dim) continue;
      if (dim === 1) dim = d;
      else if (typeof d === 'number' && typeof dim === 'number') {
        throw new Error(`${where}: cannot broadcast [${shapes.map((x) => x.join(', ')).join('] with [')}] (axis ${i}: ${dim} vs ${d})`);
      } else if (typeof dim === 'string') dim = typeof d === 'number' ? d : `broadcast(${dim},${d})`;
    }
    out.push(dim);
  }
  return out;
}

/**
 * Axes of `out` that broadcasting summed over to produce a tensor of shape `from`
 * (leading axes `from` lacks, plus axes where `from` has 1): what a gradient must be reduced over.
 */
export function broadcastAxes(from: Shape, out: Shape, where: string): { lead: number; keep: number[] } {
  const lead = out.length - from.length;
  if (lead < 0) throw new Error(`${where}: shape [${from.join(', ')}] has more axes than [${out.join(', ')}]`);
  const keep: number[] = [];
  from.forEach((d, i) => {
    const o = out[i + lead];
    if (d === o) return;
    if (d === 1) keep.push(i + lead);
    else if (!(typeof d === 'string' && o === 1)) {
      throw new Error(
        `${where}: cannot tell whether [${from.join(', ')}] broadcasts to [${out.join(', ')}] at axis ${i} (${d} vs ${o}); ` +
          'give both the same symbolic name or static sizes',
      );
    }
  });
  return { lead, keep };
}

function factors(d: Dim): { coef: number; syms: string[] } {
  if (typeof d === 'number') return { coef: d, syms: [] };
  if (d.includes('+') || d.includes('(')) return { coef: 1, syms: [d] };
  let coef = 1;
  const syms: string[] = [];
  for (const f of d.split('*')) {
    if (/^\d+$/.test(f)) coef *= Number(f);
    else syms.push(f);
  }
  return { coef, syms };
}

function product(dims: Shape): { coef: number; syms: string[] } {
  const coef = dims.reduce<number>((n, d) => n * factors(d).coef, 1);
  return { coef, syms: dims.flatMap((d) => factors(d).syms).sort() };
}

function dimOf(coef: number, syms: string[]): Dim {
  if (!syms.length) return coef;
  return (coef === 1 ? [] : [String(coef)]).concat([...syms].sort()).join('*');
}

/** Output shape of ONNX Reshape (allowzero 0): 0 copies the input dim, one -1 is inferred. */
export function reshape(input: Shape, target: readonly number[], where: string): Dim[] {
  const dims: Dim[] = target.map((t, i) => {
    if (t === 0) {
      if (i >= input.length) throw new Error(`${where}: target 0 at axis ${i} but input [${input.join(', ')}] has rank ${input.length}`);
      return input[i]!;
    }
    if (t < -1 || !Number.isInteger(t)) throw new Error(`${where}: invalid reshape target ${t}`);
    return t;
  });
  const inferred = dims.indexOf(-1);
  if (inferred !== dims.lastIndexOf(-1)) throw new Error(`${where}: more than one -1 in reshape target [${target.join(', ')}]`);
  const total = product(input);
  const known = product(dims.filter((_, i) => i !== inferred));
  const syms = [...total.syms];
  for (const s of known.syms) {
    const at = syms.indexOf(s);
    if (at < 0) {
      if (inferred >= 0) dims[inferred] = unknownDim();
      return dims;
    }
    syms.splice(at, 1);
  }
  if (inferred < 0) {
    if (isStatic(input) && total.coef !== known.coef) throw new Error(`${where}: cannot reshape [${input.join(', ')}] to [${target.join(', ')}]`);
    return dims;
  }
  if (total.coef % known.coef !== 0) throw new Error(`${where}: cannot reshape [${input.join(', ')}] to [${target.join(', ')}]`);
  dims[inferred] = dimOf(total.coef / known.coef, syms);
  return dims;
}

export function sum(a: Dim, b: Dim): Dim {
  return typeof a === 'number' && typeof b === 'number' ? a + b : `${a}+${b}`;
}

/** Length of `dim` sliced [start, end) with `step`, following ONNX clamping. */
export function sliceLength(dim: Dim, start: number, end: number, step: number): Dim {
  if (typeof dim === 'number') {
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + dim : v, lo), hi);
    const s = step > 0 ? clamp(start, 0, dim) : clamp(start, 0, dim - 1);
    const e = step > 0 ? clamp(end, 0, dim) : clamp(end, -1, dim - 1);
    return Math.max(0, Math.ceil((e - s) / step));
  }
  if (step === 1 && start < 0 && end >= END) return -start;
  if (step === 1 && start >= 0 && end >= 0 && end < END) return end - start; // assumes dim ≥ end
  return unknownDim();
}
