// Builder behaviour: emitted bytes load and compute in onnxruntime-node, names are readable and
// unique, shapes are inferred (symbolically), and misuse fails loudly naming op and node.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../random.ts';
import { grad } from './grad.ts';
import { Graph } from './ops.ts';
import { loadOnNode } from './run-node.ts';

/** Plain-JS reference: [m, k] × [k, n]. */
function matmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): number[] {
  const out = new Array<number>(m * n).fill(0);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) out[i * n + j]! += a[i * k + p]! * b[p * n + j]!;
  return out;
}

describe('Graph serialization', () => {
  it('loads in onnxruntime-node with symbolic dims and computes what a JS reference computes', async () => {
    const rand = mulberry32(3);
    const wData = Float32Array.from({ length: 6 * 5 }, () => rand() - 0.5);
    const g = new Graph('proj');
    const x = g.input('x', 'float32', ['B', 'T', 6]);
    const w = g.initializer('proj.weight', wData, [6, 5]);
    const y = g.scope('layer0', () => g.scope('attn', () => g.scope('q_proj', () => g.matMul(x, w))));
    expect(y.name).toBe('layer0/attn/q_proj/MatMul');
    expect(y.shape).toEqual(['B', 'T', 5]);
    g.output(g.reshape(y, [-1, 5]), 'flat');
    g.output(g.mul(g.cast(g.less(y, 0), 'float32'), 2.5), 'negative');

    expect(g.nodes.map((n) => n.opType)).not.toContain('Identity'); // outputs are renamed, not copied
    expect(g.output(x, 'x_copy').name).toBe('x_copy'); // an input needs an Identity
    const session = await ort.InferenceSession.create(g.toBytes());
    expect(session.inputNames).toEqual(['x']);
    expect(session.outputNames).toEqual(['flat', 'negative', 'x_copy']);
    for (const [b, t] of [[1, 3], [2, 4]] as const) {
      const xData = Float32Array.from({ length: b * t * 6 }, () => rand() - 0.5);
      const out = await session.run({ x: new ort.Tensor('float32', xData, [b, t, 6]) });
      expect(out.flat!.dims).toEqual([b * t, 5]);
      const expected = matmul(xData, wData, b * t, 6, 5);
      Array.from(out.flat!.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
      expect(Array.from(out.negative!.data as Float32Array)).toEqual(expected.map((v) => (v < 0 ? 2.5 : 0)));
    }
    await session.release();
  });

  it('infers symbolic reshape products and runs float attributes and contrib-domain ops', async () => {
    const g = new Graph('contrib');
    const x = g.input('x', 'float32', ['B', 'T', 4]);
    const flat = g.reshape(x, [-1, 2]);
    expect(flat.shape).toEqual(['2*B*T', 2]);
    expect(g.reshape(flat, [0, -1, 1]).shape).toEqual(['2*B*T', 2, 1]);
    const [gelu] = g.custom('QuickGelu', [x], [{ dtype: 'float32', shape: x.shape }], [{ name: 'alpha', type: 'float', value: 1.5 }], 'com.microsoft');
    g.output(gelu!, 'y');
    const model = await loadOnNode(g);
    const xData = Float32Array.of(-2, -0.5, 0, 0.25, 1, 3, -1, 2);
    const { y } = await model.run({ x: { data: xData, dims: [1, 2, 4] } });
    Array.from(y!.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(xData[i]! / (1 + Math.exp(-1.5 * xData[i]!)), 6));
    await model.release();
  });
});

describe('names', () => {
  it('are unique and readable, backward nodes live under grad/', () => {
    const g = new Graph('names');
    const x = g.input('x', 'float32', [2, 3]);
    const w = g.input('w', 'float32', [3, 3]);
    let h = x;
    for (const l of [0, 1]) h = g.scope(`layer${l}`, () => g.add(h, g.scope('mlp', () => g.silu(g.matMul(h, w)))));
    const loss = g.reduceSum(h, [0, 1]);
    grad(g, loss, [w]);
    const names = g.nodes.map((n) => n.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('layer1/mlp/Silu/Sigmoid');
    expect(names).toContain('grad/layer1/mlp/MatMul/MatMul');
    for (const n of names) expect(n).toMatch(/^[A-Za-z0-9_/.:]+$/);
    expect(g.scalar(1, 'float32')).toBe(g.scalar(1, 'float32'));
  });

  it('number repeats in order, a scope apart from its label', () => {
    const g = new Graph('repeats');
    const x = g.input('x', 'float32', [2]);
    const names = [g.neg(x), g.scope('Neg_2', () => g.neg(x)), g.neg(x), g.neg(x)].map((v) => v.name);
    expect(names).toEqual(['Neg', 'Neg_2/Neg', 'Neg_1', 'Neg_2']);
    // A loss head at a long max_length repeats names thousands of times (graph.ts nextSuffix).
    for (let i = 0; i < 20_000; i++) g.neg(x);
    expect(g.nodes.at(-1)!.name).toBe('Neg_20002');
    expect(new Set(g.nodes.map((n) => n.name)).size).toBe(g.nodes.length);
  });
});

describe('grad', () => {
  it('builds no backward MatMul for frozen weights and sends nothing through stopGradient', async () => {
    const g = new Graph('frozen');
    const x = g.input('x', 'float64', [2, 3]);
    const frozen = g.input('frozen', 'float64', [3, 3]);
    const w = g.input('w', 'float64', [3, 2]);
    const y = g.matMul(g.matMul(x, frozen), w);
    const [dw] = grad(g, g.reduceSum(g.mul(y, g.stopGradient(y)), [0, 1]), [w]);
    expect(g.nodes.filter((n) => n.name.startsWith('grad/') && n.opType === 'MatMul')).toHaveLength(1);
    g.output(dw!, 'dw');
    g.output(y, 'y');
    g.output(g.matMul(x, frozen), 'xf');
    const model = await loadOnNode(g);
    const rand = mulberry32(5);
    const data = (n: number) => Float64Array.from({ length: n }, () => rand() - 0.5);
    const out = await model.run({ x: { data: data(6), dims: [2, 3] }, frozen: { data: data(9), dims: [3, 3] }, w: { data: data(6), dims: [3, 2] } });
    // d/dw Σ y·stop(y) = xfᵀ·y (not 2·xfᵀ·y): the stopped factor is a constant.
    const [xf, yv] = [out.xf!.data as Float64Array, out.y!.data as Float64Array];
    const expected = matmul(Array.from({ length: 6 }, (_, i) => xf[(i % 2) * 3 + Math.floor(i / 2)]!), yv, 3, 2, 2);
    Array.from(out.dw!.data as Float64Array).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 12));
    await model.release();
  });
});

describe('failures name the op and node', () => {
  const setup = () => {
    const g = new Graph('fail');
    return { g, x: g.input('x', 'float32', [2, 3]) };
  };

  it('an op with no gradient rule on the path', () => {
    const { g, x } = setup();
    const [relu] = g.scope('act', () => g.custom('Relu', [x], [{ dtype: 'float32', shape: x.shape }]));
    expect(() => grad(g, g.reduceSum(relu!, [0, 1]), [x])).toThrow(/no gradient rule for op Relu \(node act\/Relu\)/);
  });

  it('a differentiated Pow exponent, Gather data, or an unrelated target', () => {
    const { g, x } = setup();
    expect(() => grad(g, g.reduceSum(g.pow(g.exp(x), x), [0, 1]), [x])).toThrow(/Pow_?\d*: Pow has no gradient rule for its exponent/);
    const picked = g.gather(x, g.constant(BigInt64Array.of(1n), [1]));
    expect(() => grad(g, g.reduceSum(picked, [0, 1]), [x])).toThrow(/Gather: Gather has no gradient rule for its data/);
    const other = g.input('other', 'float32', [2]);
    expect(() => grad(g, g.reduceSum(x, [0, 1]), [other])).toThrow(/does not depend on 'other'/);
  });

  it('shape mismatches and foreign values', () => {
    const { g, x } = setup();
    expect(() => g.add(x, g.input('y', 'float32', [4]))).toThrow(/node Add: cannot broadcast \[2, 3\] with \[4\]/);
    expect(() => g.matMul(x, x)).toThrow(/node MatMul: MatMul inner sizes differ/);
    expect(() => g.reshape(x, [4, -1])).toThrow(/cannot reshape \[2, 3\] to \[4, -1\]/);
    expect(() => g.neg(new Graph('other').input('z', 'float32', [1]))).toThrow(/reads 'z', which is not in this graph/);
    expect(() => g.input('x', 'float32', [1])).toThrow(/name 'x' is already used/);
  });

  it('broadcast gradients over ambiguous symbolic dims', () => {
    const g = new Graph('ambiguous');
    const a = g.input('a', 'float32', ['T', 3]);
    const b = g.input('b', 'float32', ['S', 3]);
    expect(() => grad(g, g.reduceSum(g.mul(a, b), [0, 1]), [a])).toThrow(/Mul: cannot tell whether \[T, 3\] broadcasts to \[broadcast\(/);
  });
});
