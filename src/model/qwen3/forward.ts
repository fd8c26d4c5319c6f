// Qwen3 in one page (design.md), as ONNX graph building: every weight is a graph input under
// its Hugging Face name (vocabulary chunks as `name#k`, layout.ts), LoRA matrices and scale are
// inputs too, so one graph serves the base model, any adapter, and training. The matrices come
// in HF's [out, in] or, `transposed`, already as MatMul's right operand [in, out] under
// names.transposed (the decoder's device layout: no per-run Transpose of any weight). B batch, T new
// tokens, P cached tokens, S = P + T keys, D hidden, H heads, KV key/value heads, G = H / KV,
// hd head_dim, F intermediate, V vocab, V_k rows of vocabulary chunk k. Under a q4 layout every
// matrix is 4-bit blocks instead (names.q4, q4.ts: a Q4Weight), multiplied by MatMulNBits and its
// embedding rows read by GatherBlockQuantized: inference graphs only, LoRA branches float32 on top.
// Under q4f16 the scales and norm vectors are float16, which the fused decoder's float16
// activations read as they are (decoder-fused.ts); a float32 graph casts around them.
import type { Graph, Value } from '../../onnx/index.ts';
import type { Qwen3Config } from '../config.ts';
import { loraTargets, projectionPath, projectionShape, type LoraTarget } from '../tensors.ts';
import { Q4_BLOB, Q4_BLOCK } from '../q4.ts';
import { chunkName, EMBED, inputDtype, isQ4Layout, LM_HEAD, readsTransposed, vectorDtype, weightLayout, type WeightDtype, type WeightLayout } from './layout.ts';
import { applyDropout, declareDropout, dropMask as branchDropMask, type DropoutInputs } from './dropout.ts';
import * as names from './names.ts';

/**
 * A matrix [N, K] (HF's [out, in]) of a q4 layout: its codes uint8 [N, K/32, 16] as the Value, with
 * its scales [N, K/32] beside them. The types of every builder stay Value; project, lmHead and
 * vocabRows read such a weight through the quantized ops, and asFloat32 refuses it by name.
 */
export interface Q4Weight extends Value {
  readonly scales: Value;
}

export const isQ4 = (w: Value): w is Q4Weight => 'scales' in w;

export interface LayerWeights {
  inputNorm: Value; // [D]
  proj: Record<LoraTarget, Value>; // [out, in], transposed [in, out]; a Q4Weight under q4
  qNorm: Value; // [hd]
  kNorm: Value; // [hd]
  postNorm: Value; // [D]
}

/** A vocabulary tensor [V, D], whole or as row chunks [V_k, D] (layout.ts). */
export type VocabWeight = Value | readonly Value[];

/** How a graph multiplies by the weight matrices (declareWeights). */
export interface MatrixUse {
  /** Matrices as MatMul's right operand (layout.ts readsTransposed); absent: HF's [out, in]. */
  transposed?: boolean;
  /**
   * float16 matrices multiplied in float16 (the inference graphs; float32 ones as ever): the input
   * cast down, the product cast back to float32, so each weight is read as stored, 2 bytes — casting
   * the weight instead writes and reads a float32 copy of it every run (10 bytes a weight). onnxruntime-web's WebGPU
   * MatMul then sums in float16; onnxruntime's CPU EP has no float16 MatMul and runs it in float32
   * (it casts around the node itself). Absent: float32 products, every sum in float32 (training).
   */
  half?: boolean;
}

/** Weights may be float16 inputs: each is cast to float32 where it is used (asFloat32), or multiplied as stored (MatrixUse.half). */
export interface Qwen3Weights extends MatrixUse {
  embed: VocabWeight; // [V, D]; transposed and tied: [D, V] (it is the LM head)
  layers: LayerWeights[];
  norm: Value; // [D]
  lmHead: VocabWeight; // [V, D] (= embed when tied); transposed [D, V]
}

/**
 * Token ids as a vocabulary tensor is read by them: one id tensor, or per vocabulary chunk the
 * row within it and a 0/1 mask: rows int64 [B, T], mask [B, T, 1] for the embedding; [N] and
 * [N, 1] for the train step's loss targets.
 */
export type TokenInputs = Value | { rows: readonly Value[]; mask: readonly Value[] };

export interface LoraBranch {
  a: Value; // [r, in], transposed [in, r]
  b: Value; // [out, r], transposed [r, out]
  drop: Value | null; // bool [B, T, in], true where the branch input is dropped (dropout.ts)
}

export interface LoraInputs {
  scale: Value | null; // []; null: no branches (the base model's graph)
  layers: Partial<Record<LoraTarget, LoraBranch>>[];
  /** A as [in, r] and B as [r, out] (names.transposed); absent: PEFT's layout. */
  transposed?: boolean;
  /** The keys and rate the branches' drop masks are made from; absent without dropout. */
  dropout?: DropoutInputs;
}

export interface Context {
  cos: Value; // [T, hd]
  sin: Value; // [T, hd]
  bias: Value; // [T, S]
  past: { key: Value; value: Value }[] | null; // per layer [B, KV, P, hd]
}

/** The checkpoint's weights as inputs; `use.transposed`: the decoder's device layout (layout.ts decoderWeights). */
export function declareWeights(g: Graph, c: Qwen3Config, layout: WeightLayout = weightLayout(c), use: MatrixUse = {}): Qwen3Weights {
  const transposed = use.transposed ?? false;
  const q4 = (input: string, [n, k]: number[]): Q4Weight => ({
    ...g.input(names.q4(input, 'packed'), 'uint8', [n!, k! / Q4_BLOCK, Q4_BLOB]),
    scales: g.input(names.q4(input, 'scales'), vectorDtype(layout.dtype), [n!, k! / Q4_BLOCK]),
  });
  const w = (name: string, dims: number[], input = name): Value => {
    const dtype = inputDtype(layout.dtype, dims);
    if (isQ4Layout(dtype)) return q4(input, dims);
    return transposed && readsTransposed(c, name) ? g.input(names.transposed(input), dtype, [dims[1]!, dims[0]!]) : g.input(input, dtype, dims);
  };
  const vocab = (name: string) => layout.chunks.map(({ rows }, k) => w(name, [rows, c.hiddenSize], chunkName(name, k, layout)));
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
  return { embed, layers, norm, lmHead, transposed, half: use.half };
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
 * each branch's input goes through dropout, its mask made in the graph (dropout.ts). The matrices
 * and scale are float32 but in the float16 graphs of a q4f16 layout (`dtype`), whose branches then
 * run on the stream as it is, with no Cast.
 */
export function declareLora(
  g: Graph,
  c: Qwen3Config,
  targets: readonly LoraTarget[],
  rank: number | null,
  dropMask: { batch: number; length: number } | null,
  transposed = false,
  dtype: WeightDtype = 'float32',
): LoraInputs {
  const dropout = dropMask ? declareDropout(g) : undefined;
  let branch = 0;
  const matrix = (name: string, dims: [number | string, number | string]) =>
    transposed ? g.input(names.transposed(name), dtype, [dims[1], dims[0]]) : g.input(name, dtype, dims);
  const layers = Array.from({ length: c.numLayers }, (_, l) => {
    const branches: Partial<Record<LoraTarget, LoraBranch>> = {};
    for (const t of targets) {
      const [out, inp] = projectionShape(c, t);
      const r = rank ?? `r_${l}_${t}`;
      branches[t] = {
        a: matrix(names.loraA(l, t), [r, inp]),
        b: matrix(names.loraB(l, t), [out, r]),
        drop: dropMask && dropout ? branchDropMask(g, dropout, branch, dropMask.batch, dropMask.length, inp) : null,
      };
      branch += 1;
    }
    return branches;
  });
  return { scale: g.input(names.LORA_SCALE, dtype, []), layers, transposed, dropout };
}

/** No LoRA inputs at all: the base model's graph, without the rank-1 zero branches it would otherwise run. */
export const noLora = (c: Qwen3Config): LoraInputs => ({ scale: null, layers: Array.from({ length: c.numLayers }, () => ({})) });

/**
 * A float16 weight as float32, cast at its use so the float32 copy lives only until its MatMul
 * and every sum (norms, softmax, residual stream, MatMul accumulation) stays float32.
 */
export const asFloat32 = (g: Graph, w: Value): Value => {
  if (isQ4(w)) throw new Error(`asFloat32: ${w.name} is a 4-bit weight (q4 layout): only the inference graphs read it, through MatMulNBits and GatherBlockQuantized`);
  return w.dtype === 'float16' ? g.cast(w, 'float32') : w;
};
export const chunksOf = (w: VocabWeight): readonly Value[] => (Array.isArray(w) ? w : [w as Value]);

/** `x` as `dtype`: itself, or cast (once per graph however many nodes read it: q/k/v, gate/up, a LoRA branch). */
const casts = new WeakMap<Value, Map<string, Value>>();
export function asType(g: Graph, x: Value, dtype: WeightDtype): Value {
  if (x.dtype === dtype) return x;
  const made = casts.get(x) ?? new Map<string, Value>();
  casts.set(x, made);
  const cast = made.get(dtype) ?? g.cast(x, dtype);
  made.set(dtype, cast);
  return cast;
}

/**
 * Rows of a vocabulary tensor for `ids` [B, T] → [B, T, D] (the embedding; loss targets [N] →
 * [N, D]); over chunks, Σ_k mask_k · E_k[rows_k] (the masked terms are exact zeros). `columns`:
 * the chunks are [D, V_k] (the transposed LM head), read as columns [D, B, T] and turned to
 * [B, T, D]: D·T elements, not the chunk. Only the rows read are cast to `dtype` (float32 but in
 * the float16 graphs of a q4f16 layout).
 */
export function vocabRows(g: Graph, w: VocabWeight, ids: TokenInputs, columns: boolean, dtype: WeightDtype = 'float32'): Value {
  const chunks = chunksOf(w);
  const turn = (picked: Value) => g.transpose(picked, picked.shape.map((_, i) => (i + 1) % picked.shape.length)); // [D, ..] → [.., D]
  const lookup = (chunk: Value, rows: Value) => asType(g, isQ4(chunk) ? q4Rows(g, chunk, rows) : columns ? turn(g.gather(chunk, rows, 1)) : g.gather(chunk, rows), dtype);
  if ('name' in ids) {
    if (chunks.length !== 1) throw new Error(`vocabRows: ${chunks.length} vocabulary chunks need per-chunk token inputs, got one id tensor ${ids.name}`);
    return lookup(chunks[0]!, ids);
  }
  return g.scope('Embed', () => chunks.map((chunk, k) => g.mul(lookup(chunk, ids.rows[k]!), asType(g, ids.mask[k]!, dtype))).reduce((a, b) => g.add(a, b)));
}

/**
 * Rows `ids` [..] of a q4 vocabulary chunk, dequantized → [.., D]: GatherBlockQuantized reads the
 * codes [V_k, D/32, 16] as [V_k, D/32, 32] values in blocks along the last axis (so the scales are
 * viewed [V_k, D/32, 1]); only the rows read are made float. The same codes and scales are the LM
 * head's MatMulNBits input when the embedding is tied. Zero point 8 is the op's default for uint8.
 */
export function q4Rows(g: Graph, chunk: Q4Weight, ids: Value): Value {
  const [, blocks] = chunk.shape as number[];
  const scales = g.reshape(chunk.scales, [0, blocks!, 1]); // [V_k, D/32, 1]
  const [rows] = g.custom('GatherBlockQuantized', [chunk, ids, scales], [{ dtype: chunk.scales.dtype, shape: [...ids.shape, blocks!, Q4_BLOCK] }], [
    { name: 'gather_axis', type: 'int', value: 0 },
    { name: 'quantize_axis', type: 'int', value: 2 },
    { name: 'block_size', type: 'int', value: Q4_BLOCK },
    { name: 'bits', type: 'int', value: 4 },
  ], 'com.microsoft'); // [.., D/32, 32]
  return g.reshape(rows!, [...ids.shape.map(() => 0), blocks! * Q4_BLOCK]); // [.., D]
}

/**
 * x·Wᵀ for a 4-bit weight W [N, K]: MatMulNBits, 4-bit blocks of 32 along K, zero point 8 (its
 * default without a zero_points input), in the scales' type: x is cast to it and the product back
 * when they differ (q4f16 weights in a float32 graph).
 */
export function q4Times(g: Graph, x: Value, w: Q4Weight): Value {
  if (x.dtype !== w.scales.dtype) return g.cast(q4Times(g, asType(g, x, w.scales.dtype as WeightDtype), w), x.dtype);
  const [n, blocks] = w.shape as number[];
  const attributes = [
    { name: 'K', type: 'int', value: blocks! * Q4_BLOCK },
    { name: 'N', type: 'int', value: n! },
    { name: 'bits', type: 'int', value: 4 },
    { name: 'block_size', type: 'int', value: Q4_BLOCK },
  ] as const;
  return g.custom('MatMulNBits', [x, w, w.scales], [{ dtype: x.dtype, shape: [...x.shape.slice(0, -1), n!] }], attributes, 'com.microsoft')[0]!; // [.., N]
}

/** x / sqrt(mean(x²) + eps) · w over the last axis. */
function rmsNorm(g: Graph, x: Value, w: Value, eps: number): Value {
  return g.scope('RMSNorm', () => {
    const meanSquare = g.reduceMean(g.mul(x, x), [-1], true);
    return g.mul(g.div(x, g.sqrt(g.add(meanSquare, eps))), asFloat32(g, w));
  });
}

/** x·m for m [K, N], or x·mᵀ for m [N, K] when not `transposed`: [.., K] → [.., N]. */
export const times = (g: Graph, x: Value, m: Value, transposed: boolean | undefined): Value => g.matMul(x, transposed ? m : g.transpose(m));

/**
 * x·Wᵀ + s·(drop(x)·Aᵀ)·Bᵀ: [.., in] → [.., out] in x's type; without `lora`, x·Wᵀ alone (the LM
 * head). The one projection of every graph builder: W float (MatMul, as `use` says) or 4-bit
 * (MatMulNBits). The LoRA branch runs in its matrices' type whatever W's: float32, or float16 in
 * the float16 graphs of a q4f16 layout (x cast to it and the branch back where the two differ).
 */
export function project(g: Graph, x: Value, w: Value, use: MatrixUse, lora?: LoraBranch, l?: LoraInputs): Value {
  const base = isQ4(w)
    ? q4Times(g, x, w)
    : use.half && w.dtype === 'float16'
      ? g.cast(times(g, asType(g, x, 'float16'), w, use.transposed), 'float32')
      : times(g, x, asFloat32(g, w), use.transposed); // [.., out]
  if (!lora || !l?.scale) return base;
  const input = asType(g, x, lora.a.dtype as WeightDtype);
  const dropped = lora.drop && l.dropout ? applyDropout(g, input, lora.drop, l.dropout) : input;
  const down = times(g, dropped, lora.a, l.transposed); // [.., r]
  return g.add(base, asType(g, g.mul(times(g, down, lora.b, l.transposed), l.scale), base.dtype as WeightDtype));
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

/** The seven projections of layer `layer` as x ↦ x·Wᵀ (+ LoRA). */
export type Projector = (target: LoraTarget, x: Value) => Value;

function attention(g: Graph, c: Qwen3Config, a: Value, w: LayerWeights, proj: Projector, ctx: Context, layer: number) {
  const { numHeads: H, numKvHeads: KV, headDim: hd, rmsNormEps: eps } = c;
  const G = H / KV;
  const heads = (x: Value, n: number) => g.transpose(g.reshape(x, [0, 0, n, hd]), [0, 2, 1, 3]); // [B, T, n·hd] → [B, n, T, hd]
  let q = heads(proj('q_proj', a), H); // [B, H, T, hd]
  let k = heads(proj('k_proj', a), KV); // [B, KV, T, hd]
  const vNew = heads(proj('v_proj', a), KV); // [B, KV, T, hd]
  q = rope(g, rmsNorm(g, q, w.qNorm, eps), ctx, hd);
  k = rope(g, rmsNorm(g, k, w.kNorm, eps), ctx, hd);
  const past = ctx.past?.[layer];
  const key = past ? g.concat([past.key, k], 2) : k; // [B, KV, S, hd]
  const value = past ? g.concat([past.value, vNew], 2) : vNew; // [B, KV, S, hd]
  // GQA: query head h reads kv head h // G, so split H as (KV, G); MatMul broadcasts K and V
  // over G, so neither is copied G times (nor kept so for the backward).
  const q5 = g.reshape(q, [0, KV, G, -1, hd]); // [B, KV, G, T, hd]
  const k5 = g.unsqueeze(key, [2]); // [B, KV, 1, S, hd]
  const v5 = g.unsqueeze(value, [2]); // [B, KV, 1, S, hd]
  const scores = g.add(g.mul(g.matMul(q5, g.transpose(k5, [0, 1, 2, 4, 3])), 1 / Math.sqrt(hd)), ctx.bias); // [B, KV, G, T, S]
  const mixed = g.matMul(g.softmax(scores, -1), v5); // [B, KV, G, T, hd]
  const merged = g.reshape(g.transpose(g.reshape(mixed, [0, H, -1, hd]), [0, 2, 1, 3]), [0, 0, H * hd]); // [B, T, H·hd]
  return { out: proj('o_proj', merged), key, value };
}

export function mlp(g: Graph, b: Value, proj: Projector): Value {
  const gate = proj('gate_proj', b); // [B, T, F]
  const up = proj('up_proj', b); // [B, T, F]
  return proj('down_proj', g.mul(g.silu(gate), up)); // [B, T, D]
}

/** ids [B, T] → final normed hidden states [B, T, D] and each layer's keys/values [B, KV, S, hd]. */
/** Decoder layer `l` on the residual stream x [B, T, D] → the next x and its keys/values [B, KV, S, hd]. */
export function decoderLayer(g: Graph, c: Qwen3Config, w: Qwen3Weights, lora: LoraInputs, x: Value, ctx: Context, l: number) {
  const layer = w.layers[l]!;
  return g.scope(`layer${l}`, () => {
    const proj: Projector = (t, input) => project(g, input, layer.proj[t], w, lora.layers[l]![t], lora);
    const attn = g.scope('attn', () => attention(g, c, rmsNorm(g, x, layer.inputNorm, c.rmsNormEps), layer, proj, ctx, l));
    const mid = g.add(x, attn.out);
    return { x: g.add(mid, g.scope('mlp', () => mlp(g, rmsNorm(g, mid, layer.postNorm, c.rmsNormEps), proj))), key: attn.key, value: attn.value };
  });
}

/**
 * ids [B, T] → final normed hidden states [B, T, D], each layer's keys/values [B, KV, S, hd],
 * and the residual stream [B, T, D] entering each layer and leaving the last (`stream`, L + 1
 * values: what a backward that recomputes layers keeps).
 */
export function qwen3Forward(g: Graph, c: Qwen3Config, w: Qwen3Weights, lora: LoraInputs, ids: TokenInputs, ctx: Context) {
  const stream = [vocabRows(g, w.embed, ids, !!w.transposed && c.tieWordEmbeddings)]; // [B, T, D]
  const present: { key: Value; value: Value }[] = [];
  w.layers.forEach((_, l) => {
    const out = decoderLayer(g, c, w, lora, stream[l]!, ctx, l);
    stream.push(out.x);
    present.push({ key: out.key, value: out.value });
  });
  return { hidden: rmsNorm(g, stream.at(-1)!, w.norm, c.rmsNormEps), present, stream };
}

/** What a decoder graph returns of the last position: the logits, or for greedy decoding only each row's argmax. */
export type DecoderPick = 'logits' | 'argmax';

/**
 * Outputs the last position's logits [B, V] as LOGITS, or with 'argmax' only their argmax [B]
 * as NEXT_TOKEN (int64; ties to the lowest id, as sampling.ts argmax): 8 bytes a row read back
 * instead of 4·V (594 KiB at Qwen3's vocabulary), and no host pass over them.
 */
export function outputLogits(g: Graph, logits: Value, pick: DecoderPick = 'logits'): void {
  if (pick === 'logits') {
    g.output(logits, names.LOGITS);
    return;
  }
  const attributes = [
    { name: 'axis', type: 'int', value: 1 },
    { name: 'keepdims', type: 'int', value: 0 },
  ] as const;
  g.output(g.custom('ArgMax', [logits], [{ dtype: 'int64', shape: [logits.shape[0]!] }], attributes)[0]!, names.NEXT_TOKEN);
}

/**
 * How a decoder graph multiplies its rows [B, D] by the LM head. 'matmul' (project: MatMul, or
 * MatMulNBits under q4) on a GPU. 'rows', for a fallback adapter (a CPU rasterizer: SwiftShader),
 * what such a device runs fastest (bench/lm-head, the tests' tiny model, B = 1): on float32 chunks
 * Einsum, one thread an output — onnxruntime-web's WebGPU MatMul computes tiles of 32 rows whatever
 * B is, which a GPU's idle lanes absorb and a CPU pays in full (787 against 83 ms); on q4 chunks
 * MatMulNBits on the rows repeated 4 times, which takes the EP's tiled kernel (from 4 rows) over its
 * per-column one (3,043 against 251 ms). float16 chunks keep their product.
 */
export type HeadProduct = 'matmul' | 'rows';

/** Logits of the rows of `h` [.., D] ([B, D] for 'rows') → [.., V], concatenated over vocabulary chunks. */
export function lmHead(g: Graph, w: Qwen3Weights, h: Value, product: HeadProduct = 'matmul'): Value {
  const logits = chunksOf(w.lmHead).map((chunk) => (product === 'rows' ? byRows(g, h, chunk, w) : project(g, h, chunk, w))); // each [.., V_k]
  return logits.length === 1 ? logits[0]! : g.concat(logits, -1);
}

/** h [B, D] times a chunk by the 'rows' product → [B, V_k]; a float16 chunk by its own. */
function byRows(g: Graph, h: Value, chunk: Value, w: Qwen3Weights): Value {
  if (h.shape.length !== 2 || !w.transposed) throw new Error(`lmHead: the 'rows' product takes rows [B, D] and a transposed head [D, V], got ${h.name} [${h.shape.join(', ')}] and ${chunk.name} [${chunk.shape.join(', ')}]`);
  if (isQ4(chunk)) {
    const out = q4Times(g, g.concat([h, h, h, h], 0), chunk); // [4B, V_k] in h's type
    const quarter = { dtype: out.dtype, shape: [h.shape[0]!, chunk.shape[0]!] };
    return g.custom('Split', [out], [quarter, quarter, quarter, quarter], [{ name: 'axis', type: 'int', value: 0 }])[0]!;
  }
  if (chunk.dtype !== 'float32') return project(g, h, chunk, w);
  const equation = [{ name: 'equation', type: 'string' as const, value: 'bd,dv->bv' }];
  return g.custom('Einsum', [h, chunk], [{ dtype: 'float32', shape: [h.shape[0]!, chunk.shape[1]!] }], equation)[0]!;
}
