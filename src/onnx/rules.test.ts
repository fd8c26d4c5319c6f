// One finite-difference check per gradient rule (float64 on onnxruntime-node CPU).
import { describe, expect, it } from 'vitest';
import { checkGradient, type Arg, type CheckOptions } from './check-gradient.ts';
import type { Value } from './graph.ts';
import { END } from './shape.ts';
import type { Graph } from './ops.ts';

const x = (name: string, dims: Arg['dims'], extra: Partial<Arg> = {}): Arg => ({ name, dims, ...extra });
const positive = { range: [0.5, 2] } as const;

async function expectGradient(build: (g: Graph, ...xs: Value[]) => Value, args: Arg[], options?: CheckOptions) {
  const result = await checkGradient(build, args, options);
  expect(result.mismatches).toEqual([]);
  expect(result.checked).toBeGreaterThan(0);
}

describe('elementwise rules (broadcasting)', () => {
  it('Add', () => expectGradient((g, a, b) => g.add(a!, b!), [x('a', [2, 3, 4]), x('b', [3, 1])]));
  it('Sub', () => expectGradient((g, a, b) => g.sub(a!, b!), [x('a', [3, 1]), x('b', [2, 1, 4])]));
  it('Mul', () => expectGradient((g, a, b) => g.mul(a!, b!), [x('a', [2, 3]), x('b', [3])]));
  it('Div', () => expectGradient((g, a, b) => g.div(a!, b!), [x('a', [2, 3]), x('b', [2, 1], positive)]));
  it('Pow with a constant exponent', () => expectGradient((g, a) => g.add(g.pow(a!, 1.7), g.pow(a!, 2)), [x('a', [2, 3], positive)]));
  it('Neg', () => expectGradient((g, a) => g.neg(a!), [x('a', [5])]));
  it('Sqrt', () => expectGradient((g, a) => g.sqrt(a!), [x('a', [5], positive)]));
  it('Reciprocal', () => expectGradient((g, a) => g.reciprocal(a!), [x('a', [5], positive)]));
  it('Exp', () => expectGradient((g, a) => g.exp(a!), [x('a', [5])]));
  it('Log', () => expectGradient((g, a) => g.log(a!), [x('a', [5], positive)]));
  it('Sigmoid', () => expectGradient((g, a) => g.sigmoid(a!), [x('a', [2, 4], { range: [-4, 4] })]));
  it('Sin and Cos', () => expectGradient((g, a) => g.mul(g.sin(a!), g.cos(a!)), [x('a', [6], { range: [-3, 3] })]));
  it('Identity', () => expectGradient((g, a) => g.mul(g.identity(a!), a!), [x('a', [4])]));
  it('Where (condition not differentiable)', () =>
    expectGradient((g, c, a, b) => g.where(c!, a!, b!), [x('c', [3, 1], { dtype: 'bool', data: Uint8Array.of(1, 0, 1) }), x('a', [3, 4]), x('b', [4])]));
  it('Cast float64 → float32 → float64', () =>
    expectGradient((g, a) => g.cast(g.mul(g.cast(a!, 'float32'), 3), 'float64'), [x('a', [4])], { eps: 1e-3, rtol: 1e-4, atol: 1e-5 }));
});

describe('reductions and normalizers', () => {
  for (const keepdims of [false, true]) {
    it(`ReduceSum keepdims=${keepdims}`, () => expectGradient((g, a) => g.reduceSum(a!, [0, 2], keepdims), [x('a', [2, 3, 4])]));
    it(`ReduceMean keepdims=${keepdims}`, () => expectGradient((g, a) => g.reduceMean(a!, [-1, 0], keepdims), [x('a', [2, 3, 4])]));
    it(`ReduceMax keepdims=${keepdims}`, () => expectGradient((g, a) => g.reduceMax(a!, [1], keepdims), [x('a', [2, 3, 4])]));
  }
  it('Softmax', () => expectGradient((g, a) => g.add(g.softmax(a!, 1), g.softmax(a!)), [x('a', [2, 3, 4], { range: [-3, 3] })]));
  it('logSoftmax (composed)', () => expectGradient((g, a) => g.logSoftmax(a!), [x('a', [3, 5], { range: [-3, 3] })]));
  it('silu (composed)', () => expectGradient((g, a) => g.silu(a!), [x('a', [3, 5], { range: [-3, 3] })]));
});

describe('MatMul', () => {
  it('[B,T,K] × [K,N] (batch folded into dB)', () => expectGradient((g, a, b) => g.matMul(a!, b!), [x('a', [2, 3, 4]), x('b', [4, 5])]));
  it('[B,H,T,D] × [B,H,D,S]', () => expectGradient((g, a, b) => g.matMul(a!, b!), [x('a', [2, 2, 3, 4]), x('b', [2, 2, 4, 3])]));
  it('[M,K] × [B,K,N] (broadcast a)', () => expectGradient((g, a, b) => g.matMul(a!, b!), [x('a', [3, 4]), x('b', [2, 4, 5])]));
  it('[B,1,M,K] × [H,K,N] (broadcast both)', () => expectGradient((g, a, b) => g.matMul(a!, b!), [x('a', [2, 1, 3, 4]), x('b', [3, 4, 2])]));
});

describe('shape rules', () => {
  it('Transpose', () => expectGradient((g, a) => g.transpose(a!, [2, 0, 1]), [x('a', [2, 3, 4])]));
  it('Reshape', () => expectGradient((g, a) => g.reshape(a!, [0, -1]), [x('a', [2, 3, 4])]));
  it('Expand', () => expectGradient((g, a) => g.expand(a!, [2, 3, 4]), [x('a', [3, 1])]));
  it('Unsqueeze and Squeeze', () => expectGradient((g, a) => g.squeeze(g.unsqueeze(a!, [0, -1]), [0]), [x('a', [2, 3])]));
  it('Slice', () => expectGradient((g, a) => g.slice(a!, [1, -3], [3, END], [0, 1]), [x('a', [4, 6])]));
  it('Pad', () => expectGradient((g, a) => g.pad(a!, [1, 0, 0, 2]), [x('a', [2, 3])]));
  it('Concat', () => expectGradient((g, a, b, c) => g.concat([a!, b!, c!], 1), [x('a', [2, 1]), x('b', [2, 3]), x('c', [2, 2])]));
  it('GatherElements (indices not differentiable, repeats accumulate)', () =>
    expectGradient((g, a, i) => g.gatherElements(a!, i!, 1), [x('a', [3, 5]), x('i', [3, 2], { dtype: 'int64', data: BigInt64Array.of(0n, 4n, 2n, 2n, 1n, 3n) })]));
  it('GatherElements on a leading axis', () =>
    expectGradient((g, a, i) => g.gatherElements(a!, i!, 0), [x('a', [4, 3]), x('i', [2, 3], { dtype: 'int64', data: BigInt64Array.of(3n, 0n, 1n, 3n, 2n, 1n) })]));
  it('Gather on frozen data', () =>
    expectGradient(
      (g, w, h) => g.mul(g.gather(w!, g.constant(BigInt64Array.of(2n, 0n, 2n), [3])), h!),
      [x('w', [4, 2], { diff: false }), x('h', [3, 2])],
    ));
});

describe('symbolic dims', () => {
  it('reshape, reductions and broadcasts over a runtime batch size', () =>
    expectGradient(
      (g, a, w) => {
        const h = g.matMul(g.reshape(a!, [-1, 4]), w!); // [2*B, 3]
        const centered = g.sub(h, g.reduceMean(h, [0], true)); // [2*B, 3] − [1, 3]
        const y = g.add(g.mul(centered, g.reduceMax(h, [1], true)), g.reduceSum(h, [0], true));
        return g.reshapeLike(y, g.slice(a!, [0], [3], [2])); // → [B, 2, 3]
      },
      [x('a', ['B', 2, 4], { run: [3, 2, 4] }), x('w', [4, 3])],
    ));
});
