// An independent float64 Qwen3 forward ("Qwen3 in one page" in design.md), with optional LoRA, for tests only:
// plain loops, no shared code with the ONNX graphs it checks. `products: 'float16'` emulates a GPU MatMul
// that sums in float16 (onnxruntime-web's WebGPU kernel on float16 operands): each base projection's input
// rounded to float16 and every multiply-add rounded to float16 in order along the sum, as a fused
// multiply-add would; LoRA branches and everything else stay float64.
import type { Qwen3Config } from '../model/config.ts';
import { f16ToF32, f32ToF16 } from '../model/dtype.ts';
import { loraScale, type LoraAdapter } from '../model/peft.ts';
import { projectionPath, projectionShape, type LoraTarget } from '../model/tensors.ts';

type Vector = Float64Array;

function rmsNorm(x: Vector, weight: Float32Array, eps: number): Vector {
  let sum = 0;
  for (const v of x) sum += v * v;
  const inv = 1 / Math.sqrt(sum / x.length + eps);
  return x.map((v, i) => v * inv * weight[i]);
}

const half = (v: number) => f16ToF32(f32ToF16(v));

/** y = W·x for W [out, in] row-major; `float16`: summed as a float16 MatMul would (see the top). */
function matVec(w: Float32Array, x: Vector, out: number, float16 = false): Vector {
  const inp = x.length;
  const y = new Float64Array(out);
  const xs = float16 ? x.map(half) : x;
  for (let o = 0; o < out; o++) {
    let sum = 0;
    if (float16) for (let i = 0; i < inp; i++) sum = half(sum + w[o * inp + i] * xs[i]);
    else for (let i = 0; i < inp; i++) sum += w[o * inp + i] * xs[i];
    y[o] = sum;
  }
  return y;
}

/** Rotates each head of x [heads·headDim] in place for position pos. */
function rope(x: Vector, pos: number, headDim: number, theta: number): void {
  const half = headDim / 2;
  for (let h = 0; h < x.length / headDim; h++) {
    const base = h * headDim;
    for (let j = 0; j < half; j++) {
      const angle = pos * theta ** ((-2 * j) / headDim);
      const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
      const [x1, x2] = [x[base + j], x[base + j + half]];
      x[base + j] = x1 * cos - x2 * sin;
      x[base + j + half] = x2 * cos + x1 * sin;
    }
  }
}

function headNorm(x: Vector, weight: Float32Array, headDim: number, eps: number): Vector {
  const out = new Float64Array(x.length);
  for (let h = 0; h < x.length / headDim; h++) {
    out.set(rmsNorm(x.subarray(h * headDim, (h + 1) * headDim), weight, eps), h * headDim);
  }
  return out;
}

/** Logits [vocab] at the last position of `ids`. */
export function referenceLogits(
  config: Qwen3Config,
  weights: Map<string, Float32Array>,
  ids: number[],
  adapter: LoraAdapter | null = null,
  products: 'float64' | 'float16' = 'float64',
): Float64Array {
  const float16 = products === 'float16';
  const w = (name: string) => {
    const tensor = weights.get(name);
    if (!tensor) throw new Error(`reference: no weight ${name}`);
    return tensor;
  };
  const { hiddenSize: d, headDim, numHeads, numKvHeads, rmsNormEps: eps } = config;
  const scale = adapter ? loraScale(adapter.config) : 0;
  const project = (layer: number, target: LoraTarget, x: Vector): Vector => {
    const [out] = projectionShape(config, target);
    const y = matVec(w(`${projectionPath(layer, target)}.weight`), x, out, float16);
    const pair = adapter?.layers[layer][target];
    if (pair) {
      const ax = matVec(pair.a, x, adapter!.config.r);
      const bax = matVec(pair.b, ax, out);
      for (let o = 0; o < out; o++) y[o] += scale * bax[o];
    }
    return y;
  };
  const embed = w('model.embed_tokens.weight');
  let xs = ids.map((id) => Float64Array.from(embed.subarray(id * d, (id + 1) * d)));
  for (let layer = 0; layer < config.numLayers; layer++) {
    const prefix = `model.layers.${layer}`;
    const keys: Vector[] = [];
    const values: Vector[] = [];
    const queries: Vector[] = [];
    xs.forEach((x, pos) => {
      const a = rmsNorm(x, w(`${prefix}.input_layernorm.weight`), eps);
      const q = headNorm(project(layer, 'q_proj', a), w(`${prefix}.self_attn.q_norm.weight`), headDim, eps);
      const k = headNorm(project(layer, 'k_proj', a), w(`${prefix}.self_attn.k_norm.weight`), headDim, eps);
      rope(q, pos, headDim, config.ropeTheta);
      rope(k, pos, headDim, config.ropeTheta);
      queries.push(q);
      keys.push(k);
      values.push(project(layer, 'v_proj', a));
    });
    xs = xs.map((x, pos) => {
      const attended = new Float64Array(numHeads * headDim);
      for (let h = 0; h < numHeads; h++) {
        const kv = Math.floor(h / (numHeads / numKvHeads));
        const scores = keys.slice(0, pos + 1).map((k) => {
          let dot = 0;
          for (let i = 0; i < headDim; i++) dot += queries[pos][h * headDim + i] * k[kv * headDim + i];
          return dot / Math.sqrt(headDim);
        });
        const max = Math.max(...scores);
        const exps = scores.map((s) => Math.exp(s - max));
        const total = exps.reduce((a, b) => a + b, 0);
        exps.forEach((e, t) => {
          for (let i = 0; i < headDim; i++) attended[h * headDim + i] += (e / total) * values[t][kv * headDim + i];
        });
      }
      const mid = Float64Array.from(x);
      const o = project(layer, 'o_proj', attended);
      for (let i = 0; i < d; i++) mid[i] += o[i];
      const b = rmsNorm(mid, w(`${prefix}.post_attention_layernorm.weight`), eps);
      const gate = project(layer, 'gate_proj', b);
      const up = project(layer, 'up_proj', b);
      const hidden = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
      const down = project(layer, 'down_proj', hidden);
      for (let i = 0; i < d; i++) mid[i] += down[i];
      return mid;
    });
  }
  const last = rmsNorm(xs[xs.length - 1], w('model.norm.weight'), eps);
  const head = config.tieWordEmbeddings ? embed : w('lm_head.weight');
  return matVec(head, last, config.vocabSize, float16);
}
