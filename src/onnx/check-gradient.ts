// Finite-difference gradient checking on onnxruntime-node (test support).
// loss = Σ f(x)·r with a random r, so every output element weighs differently; the graph's
import { mulberry32 } from '../random.ts';
// gradients (grad()) are compared with central differences of the same loss, run by ORT.
import { isFloat, type DType, type Dim, type TensorData, type Value } from './graph.ts';
import { grad } from './grad.ts';
import { Graph } from './ops.ts';
import { loadOnNode, type HostTensor } from './run-node.ts';

export interface Arg {
  name: string;
  /** Graph dims (may be symbolic). */
  dims: readonly Dim[];
  /** Runtime dims when `dims` is symbolic. */
  run?: readonly number[];
  dtype?: DType; // default float64
  data?: TensorData; // default uniform in `range`
  range?: readonly [number, number]; // default [-1, 1]
  /** false: a constant input (no gradient checked). Default: true for floating inputs. */
  diff?: boolean;
}

export interface CheckOptions {
  eps?: number;
  rtol?: number;
  atol?: number;
  /** At most this many elements per input are checked by finite differences. */
  sample?: number;
  seed?: number;
}

export interface CheckResult {
  /** Largest |analytic − numeric| / (atol + rtol·max(|analytic|, |numeric|)); ≤ 1 passes. */
  worst: number;
  mismatches: string[];
  checked: number;
}

function uniform(dtype: DType, count: number, [lo, hi]: readonly [number, number], rand: () => number): TensorData {
  const values = Array.from({ length: count }, () => lo + (hi - lo) * rand());
  if (dtype === 'float64') return Float64Array.from(values);
  if (dtype === 'float32') return Float32Array.from(values);
  throw new Error(`check-gradient.ts: give data for non-floating input of ${dtype}`);
}

export async function checkGradient(build: (g: Graph, ...xs: Value[]) => Value, args: readonly Arg[], options: CheckOptions = {}): Promise<CheckResult> {
  const dtypeOf = (a: Arg) => a.dtype ?? 'float64';
  const single = args.every((a) => dtypeOf(a) !== 'float32');
  const { eps = single ? 1e-6 : 1e-2, rtol = single ? 1e-6 : 1e-2, atol = single ? 1e-8 : 1e-3, sample = 48, seed = 1 } = options;
  const rand = mulberry32(seed);
  const feeds: Record<string, HostTensor> = {};
  for (const a of args) {
    const dims = a.run ?? a.dims.map((d) => (typeof d === 'number' ? d : NaN));
    if (dims.some(Number.isNaN)) throw new Error(`check-gradient.ts: input ${a.name} has symbolic dims [${a.dims}]; give run dims`);
    const count = dims.reduce((n, d) => n * d, 1);
    feeds[a.name] = { data: a.data ?? uniform(dtypeOf(a), count, a.range ?? [-1, 1], rand), dims };
  }

  const forward = new Graph('forward');
  forward.output(build(forward, ...args.map((a) => forward.input(a.name, dtypeOf(a), a.dims))), 'y');
  const forwardModel = await loadOnNode(forward, 'basic');
  const y = (await forwardModel.run(feeds)).y!;
  await forwardModel.release();

  const g = new Graph('gradient-check');
  const xs = args.map((a) => g.input(a.name, dtypeOf(a), a.dims));
  const out = build(g, ...xs);
  const r = g.input('r', out.dtype, out.shape);
  feeds.r = { data: uniform(out.dtype, y.data.length, [-1, 1], rand), dims: y.dims };
  const loss = g.reduceSum(g.mul(out, r), [...out.shape.keys()]);
  const wrt = xs.filter((x, i) => args[i]!.diff !== false && isFloat(x.dtype));
  g.output(loss, 'loss');
  grad(g, loss, wrt).forEach((d, i) => g.output(d, `grad_${wrt[i]!.name}`));
  const model = await loadOnNode(g, 'basic');
  const analytic = await model.run(feeds);

  const result: CheckResult = { worst: 0, mismatches: [], checked: 0 };
  for (const x of wrt) {
    const base = feeds[x.name]!;
    const n = base.data.length;
    const picks = n <= sample ? [...Array(n).keys()] : Array.from({ length: sample }, () => Math.floor(rand() * n));
    for (const i of picks) {
      const at = async (delta: number) => {
        const data = base.data.slice() as Float64Array;
        data[i] = (data[i] as number) + delta;
        const { loss } = await model.run({ ...feeds, [x.name]: { data, dims: base.dims } }, ['loss']);
        return loss!.data[0] as number;
      };
      const numeric = ((await at(eps)) - (await at(-eps))) / (2 * eps);
      const exact = analytic[`grad_${x.name}`]!.data[i] as number;
      const error = Math.abs(exact - numeric) / (atol + rtol * Math.max(Math.abs(exact), Math.abs(numeric)));
      result.worst = Math.max(result.worst, error);
      result.checked++;
      if (error > 1) result.mismatches.push(`${x.name}[${i}]: graph ${exact}, finite difference ${numeric}`);
    }
  }
  await model.release();
  return result;
}
