// Optimizer graphs over the LoRA parameters: gradient accumulation, and one AdamW step
// (PyTorch's decoupled weight decay) after global-norm clipping. Step-dependent scalars
// (lr, bias corrections) are inputs, computed on the host, so one graph serves every step.
import { Graph, type Value } from '../../onnx/index.ts';

export interface Param {
  name: string;
  dims: number[];
}

export const accName = (param: string) => `acc.${param}`;
export const momentName = (param: string) => `m.${param}`;
export const velocityName = (param: string) => `v.${param}`;
export const next = (name: string) => `${name}.next`;
export const GRAD_WEIGHT = 'grad_weight'; // [] this micro-batch's share of the accumulated tokens
export const LR = 'lr';
export const BIAS_CORRECTION1 = 'bias_correction1'; // [] 1 − β1^t
export const BIAS_CORRECTION2 = 'bias_correction2'; // [] 1 − β2^t
export const GRAD_NORM = 'grad_norm'; // [] before clipping

/**
 * acc ← acc + grad_weight · grad for every param (grad inputs are named gradName(param)); with
 * `first`, acc ← grad_weight · grad: the window's first micro-batch starts the sums, so no
 * zeroed accumulators are uploaded per step.
 */
export function buildAccumulate(params: readonly Param[], gradName: (param: string) => string, first = false): Uint8Array {
  const g = new Graph(first ? 'lora-accumulate-first' : 'lora-accumulate');
  const weight = g.input(GRAD_WEIGHT, 'float32', []);
  for (const p of params) {
    const weighted = g.mul(g.input(gradName(p.name), 'float32', p.dims), weight);
    g.output(first ? weighted : g.add(g.input(accName(p.name), 'float32', p.dims), weighted), next(accName(p.name)));
  }
  return g.toBytes();
}

export interface AdamWSettings {
  betas: [number, number];
  eps: number;
  weightDecay: number;
  /** 0: no clipping. */
  maxGradNorm: number;
}

/**
 * θ ← θ − lr·wd·θ;  m ← β1·m + (1−β1)·ĝ;  v ← β2·v + (1−β2)·ĝ²;
 * θ ← θ − lr·(m / bc1) / (√(v / bc2) + eps),  with ĝ = g·min(1, max_norm / (‖g‖ + 1e-6)).
 * Inputs: each param, accName(param) (the gradient), momentName / velocityName; outputs next(…).
 */
export function buildAdamW(params: readonly Param[], s: AdamWSettings): Uint8Array {
  const g = new Graph('lora-adamw');
  const lr = g.input(LR, 'float32', []);
  const bc1 = g.input(BIAS_CORRECTION1, 'float32', []);
  const bc2 = g.input(BIAS_CORRECTION2, 'float32', []);
  const state = params.map((p) => ({
    p,
    theta: g.input(p.name, 'float32', p.dims),
    grad: g.input(accName(p.name), 'float32', p.dims),
    m: g.input(momentName(p.name), 'float32', p.dims),
    v: g.input(velocityName(p.name), 'float32', p.dims),
  }));
  const all = params.map((p) => p.dims.map((_, i) => i));
  const squares = state.map((st, i) => g.reduceSum(g.mul(st.grad, st.grad), all[i]!));
  const norm = g.sqrt(squares.reduce((a, b) => g.add(a, b))); // []
  g.output(norm, GRAD_NORM);
  let coef: Value | null = null;
  if (s.maxGradNorm > 0) {
    const ratio = g.div(g.scalar(s.maxGradNorm, 'float32'), g.add(norm, 1e-6));
    coef = g.where(g.less(ratio, 1), ratio, 1);
  }
  const [b1, b2] = s.betas;
  for (const st of state) {
    g.scope(st.p.name, () => {
      const grad = coef ? g.mul(st.grad, coef) : st.grad;
      const m = g.add(g.mul(st.m, b1), g.mul(grad, 1 - b1));
      const v = g.add(g.mul(st.v, b2), g.mul(g.mul(grad, grad), 1 - b2));
      const decayed = s.weightDecay > 0 ? g.sub(st.theta, g.mul(g.mul(st.theta, lr), s.weightDecay)) : st.theta;
      const denom = g.add(g.sqrt(g.div(v, bc2)), s.eps);
      g.output(g.sub(decayed, g.div(g.mul(g.div(m, bc1), lr), denom)), next(st.p.name));
      g.output(m, next(momentName(st.p.name)));
      g.output(v, next(velocityName(st.p.name)));
    });
  }
  return g.toBytes();
}
