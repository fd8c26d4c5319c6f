// The lm-head bench page: Qwen3's LM head on one decoded row, x [M, D] · W [D, V] → ArgMax, written
// six ways and timed on this browser's WebGPU (bench/lm-head/run.ts drives it). On SwiftShader the
// tests' tiny model spends most of a decoded token in this one product: onnxruntime-web's MatMul
// tiles M by 32 rows whatever M is, so a 1-row product costs a 32-row one. The q4 ways (MatMulNBits
// on W quantized in blocks of 32) pick their own argmax, of the quantized head.
import * as ort from 'onnxruntime-web/webgpu';
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import { quantizeQ4, Q4_BLOB, Q4_BLOCK } from '../../src/model/q4.ts';
import { q4Times } from '../../src/model/qwen3/forward.ts';
import { Graph, type Value } from '../../src/onnx/index.ts';

export interface Timing {
  way: string;
  rows: number;
  ms: number;
  argmax: number;
}

declare global {
  interface Window {
    runLmHead(hidden: number, runs: number): Promise<Timing[]>;
  }
}

ort.env.wasm.wasmPaths = { wasm: new URL(wasmUrl, import.meta.url).href };
ort.env.wasm.numThreads = 1;

const V = 151936;

function seeded(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

/** Columns [start, end) of W [D, V] as their own [D, end − start] matrix. */
function columns(W: Float32Array, D: number, start: number, end: number): Float32Array {
  const out = new Float32Array(D * (end - start));
  for (let d = 0; d < D; d++) out.set(W.subarray(d * V + start, d * V + end), d * (end - start));
  return out;
}

/** The ways, each x [M, D] ↦ logits [M, V]. */
const ways: Record<string, (g: Graph, x: Value, W: Float32Array, D: number, M: number) => Value> = {
  MatMul: (g, x, W, D) => g.matMul(x, g.initializer('w', W, [D, V])),
  'MatMul, 4 column chunks': (g, x, W, D) => g.concat([0, 1, 2, 3].map((k) => g.matMul(x, g.initializer(`w${k}`, columns(W, D, (k * V) / 4, ((k + 1) * V) / 4), [D, V / 4]))), -1),
  'Gemm on Wᵀ (transB)': (g, x, W, D, M) => g.custom('Gemm', [x, g.initializer('wt', transposed(W, D), [V, D])], [{ dtype: 'float32', shape: [M, V] }], [{ name: 'transB', type: 'int', value: 1 }])[0]!,
  'MatMul Wᵀ · xᵀ': (g, x, W, D) => g.transpose(g.matMul(g.initializer('wt', transposed(W, D), [V, D]), g.transpose(x, [1, 0])), [1, 0]),
  'Mul + ReduceSum': (g, x, W, D, M) => (M === 1 ? g.reduceSum(g.mul(g.reshape(x, [D, 1]), g.initializer('w', W, [D, V])), [0], true) : g.matMul(x, g.initializer('w', W, [D, V]))),
  Einsum: (g, x, W, D, M) => g.custom('Einsum', [x, g.initializer('w', W, [D, V])], [{ dtype: 'float32', shape: [M, V] }], [{ name: 'equation', type: 'string', value: 'md,dv->mv' }])[0]!,
  'q4: MatMulNBits': (g, x, W, D) => q4Times(g, x, q4Head(g, W, D)),
  // The row repeated to 4 rows: the EP's MatMulNBits takes its tiled kernel from M = 4 (matmul_nbits.cc
  // kMinMForTileOptimization), a per-column one below it.
  'q4: MatMulNBits, the row 4 times': (g, x, W, D) => g.slice(q4Times(g, g.concat([x, x, x, x], 0), q4Head(g, W, D)), [0], [1], [0]),
};

let quantized: { packed: Uint8Array; scales: Float32Array } | null = null;
/** W [D, V] as MatMulNBits' weight: Wᵀ [V, D] in 4-bit blocks along D (quantized once per page). */
function q4Head(g: Graph, W: Float32Array, D: number) {
  quantized ??= quantizeQ4(transposed(W, D), V, D, 'lm_head');
  const packed = g.initializer('w_q4', quantized.packed, [V, D / Q4_BLOCK, Q4_BLOB], 'uint8');
  return Object.assign(packed, { scales: g.initializer('w_scales', quantized.scales, [V, D / Q4_BLOCK]) });
}

function transposed(W: Float32Array, D: number): Float32Array {
  const out = new Float32Array(D * V);
  for (let d = 0; d < D; d++) for (let v = 0; v < V; v++) out[v * D + d] = W[d * V + v]!;
  return out;
}

window.runLmHead = async (hidden, runs) => {
  const W = seeded(hidden * V, 1);
  const results: Timing[] = [];
  for (const rows of [1, 8]) {
    for (const [way, logits] of Object.entries(ways)) {
      if ((way === 'Mul + ReduceSum' || way.endsWith('times')) && rows !== 1) continue;
      const g = new Graph('lm-head');
      const x = g.input('x', 'float32', [rows, hidden]);
      const argmax = [{ name: 'axis', type: 'int', value: -1 }, { name: 'keepdims', type: 'int', value: 0 }] as const;
      g.output(g.custom('ArgMax', [logits(g, x, W, hidden, rows)], [{ dtype: 'int64', shape: [rows] }], argmax)[0]!, 'next');
      const session = await ort.InferenceSession.create(g.toBytes(), { executionProviders: ['webgpu'] });
      const feeds = { x: new ort.Tensor('float32', seeded(rows * hidden, 9), [rows, hidden]) };
      // Two untimed runs compile the shaders; each timed run reads back the argmax, so it waits for the GPU.
      let first = 0;
      for (let i = 0; i < 2; i++) first = Number(((await session.run(feeds)).next!.data as BigInt64Array)[0]!);
      const start = performance.now();
      for (let i = 0; i < runs; i++) await session.run(feeds);
      results.push({ way, rows, ms: (performance.now() - start) / runs, argmax: first });
      await session.release();
    }
  }
  return results;
};

document.querySelector('#status')!.textContent = 'ready';
