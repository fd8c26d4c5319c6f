// Qwen3 in one page (design.md), as ONNX graph building: every weight is a graph input under
// its Hugging Face name (vocabulary chunks as `name#k`, layout.ts), LoRA matrices and scale are
// inputs too, so one graph serves the base model, any adapter, and training. B batch, T new
// tokens, P cached tokens, S = P + T keys, D hidden, H heads, KV key/value heads, G = H / KV,
// hd head_dim, F intermediate, V vocab, V_k rows of vocabulary chunk k.
import type { Graph, Value } from '../../onnx/index.ts';
import type { Qwen3Config } from '../config.ts';
import { loraTargets, projectionPath, projectionShape, type LoraTarget } from '../tensors.ts';
import { chunkName, EMBED, LM_HEAD, weightLayout, type WeightLayout } from './layout.ts';
import * as names from './names.ts';

export interface LayerWeights {
  inputNorm: Value; // [D]
  proj: Record<LoraTarget, Value>; // [out, in]
  qNorm: Value; // [hd]
  kNorm: Value; // [hd]
  postNorm: Value; // [D]
}

/** A vocabulary tensor [V, D], whole or as row chunks [V_k, D] (layout.ts). */
export type VocabWeight = Value | readonly Value[];

/** Weights may be float16 inputs: each is cast to float32 where it is used (asFloat32). */
export interface Qwen3Weights {
  embed: VocabWeight; // [V, D]
  layers: LayerWeights[];
  norm: Value; // [D]
  lmHead: VocabWeight; // [V, D] (= embed when tied)
}

/** Token ids as the embedding reads them: one [B, T] id tensor, or per vocabulary chunk the row within it and a 0/1 mask. */
export type TokenInputs = Value | { rows: readonly Value[]; mask: readonly Value[] }; // rows int64 [B, T], mask [B, T, 1]

export interface LoraBranch {
  a: Value; // [r, in]
  b: Value; // [out, r]
  drop: Value | null; // [B, T, in] keep-mask scaled by 1/(1−p)
}

export interface LoraInputs {
  scale: Value; // []
  layers: Partial<Record<LoraTarget, LoraBranch>>[];
}

export interface Context {
  cos: Value; // [T, hd]
  sin: Value; // [T, hd]
  bias: Value; // [T, S]
  past: { key: Value; value: Value }[] | null; // per layer [B, KV, P, hd]
}

export function declareWeights(g: Graph, c: Qwen3Config, layout: WeightLayout = weightLayout(c)): Qwen3Weights {
  const w = (name: string, dims: number[]) => g.input(name, layout.dtype, dims);
  const vocab = (name: string) => layout.chunks.map(({ rows }, k) => w(chunkName(name, k, layout), [rows, c.hiddenSize]));
  const embed = vocab(EMBED);
  const layers = Array.from({ length: c.numLayers }, (_, l): LayerWeights => {
    const prefix = `model.layers.${l}`;
    const inputNorm = w(`${prefix}.input_layernorm.weight`, [c.hiddenSize]);
    const proj = Object.fromEntries(loraTargets.map((t) => [t, w(`${projectionPath(l, t)}.weight`, projectionShape(c, t))]));
    return {
      inputNorm,
      proj: proj as Record<LoraTarget, Value>,
      qNorm: w(`${prefix}.self_attn.q_norm.weight`, [c.headDim]),
      kNorm: w(`${prefix}.self_attn.k_norm.weight`, [c.headDim]),
      postNorm: w(`${prefix}.post_attention_layernorm.weight`, [c.hiddenSize]),
    };
  });
  const norm = w('model.norm.weight', [c.hiddenSize]);
  const lmHead = c.tieWordEmbeddings ? embed : vocab(LM_HEAD);
  return { embed, layers, norm, lmHead };
}

/** The token inputs of a `layout`: input_ids alone when the vocabulary is one chunk. */
export function declareTokens(g: Graph, layout: WeightLayout, batch: number | string, length: number | string): TokenInputs {
  if (layout.chunks.length === 1) return g.input(names.INPUT_IDS, 'int64', [batch, length]);
  return {
    rows: layout.chunks.map((_, k) => g.input(names.chunkRows(k), 'int64', [batch, length])),
    mask: layout.chunks.map((_, k) => g.input(names.chunkMask(k), 'float32', [batch, length, 1])),
  };
}

/**
 * LoRA inputs for `targets`; `rank` is a number (train step) or null for a symbolic rank per
 * matrix (inference: any adapter, or rank-1 zeros for the base model). With `dropMask`,
 * each branch also takes a dropout keep-mask [B, T, in].
 */
export function declareLora(
  g: Graph,
  c: Qwen3Config,
  targets: readonly LoraTarget[],
  rank: number | null,
  dropMask: { batch: number | string; length: number | string } | null,
): LoraInputs {
  const layers = Array.from({ length: c.numLayers }, (_, l) => {
    const branches: Partial<Record<LoraTarget, LoraBranch>> = {};
    for (const t of targets) {
      const [out, inp] = projectionShape(c, t);
      const r = rank ?? `r_${l}_${t}`;
      branches[t] = {
        a: g.input(names.loraA(l, t), 'float32', [r, inp]),
        b: g.input(names.loraB(l, t), 'float32', [out, r]),
        drop: dropMask ? g.input(names.loraDropMask(l, t), 'float32', [dropMask.batch, dropMask.length, inp]) : null,
      };
    }
    return branches;
  });
  return { scale: g.input(names.LORA_SCALE, 'float32', []), layers };
}

/**
 * A float16 weight as float32, cast at its use so the float32 copy lives only until its MatMul
 * and every sum (norms, softmax, residual stream, MatMul accumulation) stays float32.
 */
const asFloat32 = (g: Graph, w: Value): Value => (w.dtype === 'float16' ? g.cast(w, 'float32') : w);
const chunksOf = (w: VocabWeight): readonly Value[] => (Array.isArray(w) ? w : [w as Value]);

/** Rows of the embedding for `ids` → [B, T, D]; over chunks, Σ_k mask_k · E_k[rows_k] (the masked terms are exact zeros). */
function embed(g: Graph, w: VocabWeight, ids: TokenInputs): Value {
  const chunks = chunksOf(w);
  if ('name' in ids) {
    if (chunks.length !== 1) throw new Error(`embed: ${chunks.length} vocabulary chunks need per-chunk token inputs, got one id tensor ${ids.name}`);
    return asFloat32(g, g.gather(chunks[0]!, ids));
  }
  return g.scope('Embed', () =>
    chunks.map((chunk, k) => g.mul(asFloat32(g, g.gather(chunk, ids.rows[k]!)), ids.mask[k]!)).reduce((a, b) => g.add(a, b)),
  );
}

/** x / sqrt(mean(x²) + eps) · w over the last axis. */
function rmsNorm(g: Graph, x: Value, w: Value, eps: number): Value {
  return g.scope('RMSNorm', () => {
    const meanSquare = g.reduceMean(g.mul(x, x), [-1], true);
    return g.mul(g.div(x, g.sqrt(g.add(meanSquare, eps))), asFloat32(g, w));
  });
}

/** x·Wᵀ + s·(drop(x)·Aᵀ)·Bᵀ: [.., in] → [.., out]. */
function project(g: Graph, x: Value, w: Value, lora: LoraBranch | undefined, scale: Value): Value {
  const base = g.matMul(x, g.transpose(asFloat32(g, w))); // [.., out]
  if (!lora) return base;
  const dropped = lora.drop ? g.mul(x, lora.drop) : x;
  const down = g.matMul(dropped, g.transpose(lora.a)); // [.., r]
  return g.add(base, g.mul(g.matMul(down, g.transpose(lora.b)), scale));
}

/** x·cos + rotate_half(x)·sin with rotate_half([x1, x2]) = [−x2, x1]; x [B, *, T, hd]. */
function rope(g: Graph, x: Value, ctx: Context, headDim: number): Value {
  return g.scope('RoPE', () => {
    const half = headDim / 2;
    const x1 = g.slice(x, [0], [half], [-1]);
    const x2 = g.slice(x, [half], [headDim], [-1]);
    const rotated = g.concat([g.neg(x2), x1], -1);
    return g.add(g.mul(x, ctx.cos), g.mul(rotated, ctx.sin));
  });
}

function attention(g: Graph, c: Qwen3Config, a: Value, w: LayerWeights, lora: LoraInputs['layers'][number], scale: Value, ctx: Context, layer: number) {
  const { numHeads: H, numKvHeads: KV, headDim: hd, rmsNormEps: eps } = c;
  const G = H / KV;
  const heads = (x: Value, n: number) => g.transpose(g.reshape(x, [0, 0, n, hd]), [0, 2, 1, 3]); // [B, T, n·hd] → [B, n, T, hd]
  let q = heads(project(g, a, w.proj.q_proj, lora.q_proj, scale), H); // [B, H, T, hd]
  let k = heads(project(g, a, w.proj.k_proj, lora.k_proj, scale), KV); // [B, KV, T, hd]
  const vNew = heads(project(g, a, w.proj.v_proj, lora.v_proj, scale), KV); // [B, KV, T, hd]
  q = rope(g, rmsNorm(g, q, w.qNorm, eps), ctx, hd);
  k = rope(g, rmsNorm(g, k, w.kNorm, eps), ctx, hd);
  const past = ctx.past?.[layer];
  const key = past ? g.concat([past.key, k], 2) : k; // [B, KV, S, hd]
  const value = past ? g.concat([past.value, vNew], 2) : vNew; // [B, KV, S, hd]
  // GQA: query head h reads kv head h // G, so split H as (KV, G) and broadcast K, V over G.
  const q5 = g.reshape(q, [0, KV, G, -1, hd]); // [B, KV, G, T, hd]
  const k5 = g.expand(g.unsqueeze(key, [2]), [1, 1, G, 1, 1]); // [B, KV, G, S, hd]
  const v5 = g.expand(g.unsqueeze(value, [2]), [1, 1, G, 1, 1]); // [B, KV, G, S, hd]
  const scores = g.add(g.mul(g.matMul(q5, g.transpose(k5, [0, 1, 2, 4, 3])), 1 / Math.sqrt(hd)), ctx.bias); // [B, KV, G, T, S]
  const mixed = g.matMul(g.softmax(scores, -1), v5); // [B, KV, G, T, hd]
  const merged = g.reshape(g.transpose(g.reshape(mixed, [0, H, -1, hd]), [0, 2, 1, 3]), [0, 0, H * hd]); // [B, T, H·hd]
  return { out: project(g, merged, w.proj.o_proj, lora.o_proj, scale), key, value };
}

function mlp(g: Graph, b: Value, w: LayerWeights, lora: LoraInputs['layers'][number], scale: Value): Value {
  const gate = project(g, b, w.proj.gate_proj, lora.gate_proj, scale); // [B, T, F]
  const up = project(g, b, w.proj.up_proj, lora.up_proj, scale); // [B, T, F]
  return project(g, g.mul(g.silu(gate), up), w.proj.down_proj, lora.down_proj, scale); // [B, T, D]
}

/** ids [B, T] → final normed hidden states [B, T, D] and each layer's keys/values [B, KV, S, hd]. */
export function qwen3Forward(g: Graph, c: Qwen3Config, w: Qwen3Weights, lora: LoraInputs, ids: TokenInputs, ctx: Context) {
  let x = embed(g, w.embed, ids); // [B, T, D]
  const present: { key: Value; value: Value }[] = [];
  w.layers.forEach((layer, l) => {
    g.scope(`layer${l}`, () => {
      const branches = lora.layers[l]!;
      const attn = g.scope('attn', () => attention(g, c, rmsNorm(g, x, layer.inputNorm, c.rmsNormEps), layer, branches, lora.scale, ctx, l));
      x = g.add(x, attn.out);
      x = g.add(x, g.scope('mlp', () => mlp(g, rmsNorm(g, x, layer.postNorm, c.rmsNormEps), layer, branches, lora.scale)));
      present.push({ key: attn.key, value: attn.value });
    });
  });
  return { hidden: rmsNorm(g, x, w.norm, c.rmsNormEps), present };
}

/** Logits of the rows of `h` [.., D] → [.., V], concatenated over vocabulary chunks. */
export function lmHead(g: Graph, w: Qwen3Weights, h: Value): Value {
  const logits = chunksOf(w.lmHead).map((chunk) => g.matMul(h, g.transpose(asFloat32(g, chunk)))); // each [.., V_k]
  return logits.length === 1 ? logits[0]! : g.concat(logits, -1);
}
