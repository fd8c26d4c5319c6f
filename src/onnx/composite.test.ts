// A two-layer attention + MLP block (RMS norm, causal softmax attention with a LoRA'd query,
// SiLU-gated MLP, residuals, log-softmax cross-entropy) checked end to end against finite
// differences in float64, then the same graph in float32 against the float64 gradients.
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../random.ts';
import { checkGradient, type Arg } from './check-gradient.ts';
import type { DType, Value } from './graph.ts';
import { grad } from './grad.ts';
import { Graph } from './ops.ts';
import { loadOnNode, type HostTensor } from './run-node.ts';

const [B, T, D, H, HD, F, V, R] = [2, 4, 8, 2, 4, 12, 10, 2];
const LAYERS = [0, 1];

const weights: [string, number[], boolean][] = [
  ...LAYERS.flatMap((l): [string, number[], boolean][] => [
    [`ln_in${l}`, [D], true],
    [`wq${l}`, [D, D], false], // frozen base weights: no backward MatMul for them
    [`lora_a${l}`, [D, R], true],
    [`lora_b${l}`, [R, D], true],
    [`wk${l}`, [D, D], true],
    [`wv${l}`, [D, D], false],
    [`wo${l}`, [D, D], true],
    [`ln_post${l}`, [D], true],
    [`gate${l}`, [D, F], true],
    [`up${l}`, [D, F], false],
    [`down${l}`, [F, D], true],
  ]),
  ['ln_final', [D], true],
  ['lm_head', [D, V], true],
];

const labels = BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 7 + 3) % V));
const causal = Uint8Array.from({ length: T * T }, (_, i) => +(i % T <= Math.floor(i / T)));

function args(dtype: DType): Arg[] {
  return [
    { name: 'x', dims: [B, T, D], dtype, range: [-1, 1] },
    { name: 'labels', dims: [B, T, 1], dtype: 'int64', data: labels },
    { name: 'causal', dims: [T, T], dtype: 'bool', data: causal },
    ...weights.map(([name, dims, diff]): Arg => ({ name, dims, dtype, diff, range: name.startsWith('ln') ? [0.5, 1.5] : [-0.6, 0.6] })),
  ];
}

/** Mean next-token NLL of the block; inputs in the order of args(). */
function block(g: Graph, x: Value, label: Value, mask: Value, ...ws: Value[]): Value {
  const w = Object.fromEntries(weights.map(([name], i) => [name, ws[i]!]));
  const rms = (h: Value, gain: Value) => g.scope('rms', () => g.mul(g.div(h, g.sqrt(g.add(g.reduceMean(g.mul(h, h), [-1], true), 1e-6))), gain));
  const heads = (v: Value) => g.transpose(g.reshape(v, [0, 0, H, HD]), [0, 2, 1, 3]); // [B, T, D] → [B, H, T, HD]
  let h = x; // [B, T, D]
  for (const l of LAYERS) {
    h = g.scope(`layer${l}`, () => {
      const a = rms(h, w[`ln_in${l}`]!);
      const q = g.scope('q_proj', () => heads(g.add(g.matMul(a, w[`wq${l}`]!), g.mul(g.matMul(g.matMul(a, w[`lora_a${l}`]!), w[`lora_b${l}`]!), 2))));
      const k = g.scope('k_proj', () => heads(g.matMul(a, w[`wk${l}`]!)));
      const v = g.scope('v_proj', () => heads(g.matMul(a, w[`wv${l}`]!)));
      const scores = g.div(g.matMul(q, g.transpose(k, [0, 1, 3, 2])), Math.sqrt(HD)); // [B, H, T, T]
      const attn = g.matMul(g.softmax(g.where(mask, scores, -1e9)), v); // [B, H, T, HD]
      const merged = g.reshape(g.transpose(attn, [0, 2, 1, 3]), [0, 0, D]); // [B, T, D]
      const mid = g.add(h, g.scope('o_proj', () => g.matMul(merged, w[`wo${l}`]!)));
      const b = rms(mid, w[`ln_post${l}`]!);
      const ffn = g.mul(g.silu(g.matMul(b, w[`gate${l}`]!)), g.matMul(b, w[`up${l}`]!)); // [B, T, F]
      return g.add(mid, g.matMul(ffn, w[`down${l}`]!));
    });
  }
  const logits = g.matMul(rms(h, w.ln_final!), w.lm_head!); // [B, T, V]
  return g.neg(g.reduceMean(g.gatherElements(g.logSoftmax(logits), label, 2), [0, 1, 2]));
}

describe('two-layer attention + MLP block', () => {
  it('matches central finite differences in float64', async () => {
    const result = await checkGradient(block, args('float64'), { sample: 10, seed: 7 });
    expect(result.mismatches).toEqual([]);
    expect(result.checked).toBeGreaterThan(100);
  });

  it('float32 gradients agree with float64 to 1e-4 relative', async () => {
    const rand = mulberry32(11);
    const uniform = ({ dims, range: [lo, hi] = [-1, 1] }: Arg) =>
      Float64Array.from({ length: dims.reduce<number>((n, d) => n * (d as number), 1) }, () => lo + (hi - lo) * rand());
    const data = new Map(args('float64').map((a) => [a.name, a.data ?? uniform(a)]));
    const run = async (dtype: DType) => {
      const g = new Graph(`block-${dtype}`);
      const inputs = args(dtype).map((a) => g.input(a.name, a.dtype!, a.dims));
      const loss = block(g, ...(inputs as [Value, Value, Value, ...Value[]]));
      const wrt = inputs.filter((_, i) => args(dtype)[i]!.diff ?? i === 0); // x and the trainable weights
      g.output(loss, 'loss');
      grad(g, loss, wrt).forEach((d, i) => g.output(d, `grad_${wrt[i]!.name}`));
      const feeds: Record<string, HostTensor> = {};
      for (const a of args(dtype)) {
        const values = data.get(a.name)!;
        feeds[a.name] = { data: dtype === 'float32' && values instanceof Float64Array ? Float32Array.from(values) : values, dims: a.dims as number[] };
      }
      const model = await loadOnNode(g);
      const out = await model.run(feeds);
      await model.release();
      return { out, names: wrt.map((v) => v.name) };
    };
    const [f64, f32] = [await run('float64'), await run('float32')];
    expect(f32.names).toEqual(f64.names);
    for (const name of ['loss', ...f64.names.map((n) => `grad_${n}`)]) {
      const [a, b] = [f64.out[name]!.data as Float64Array, f32.out[name]!.data as Float32Array];
      const scale = Math.max(...Array.from(a, Math.abs));
      const worst = Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));
      expect(worst / scale, name).toBeLessThan(1e-4);
    }
  });
});
