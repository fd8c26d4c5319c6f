// Qwen3 hyper-parameters from a Hugging Face config.json (any size, tied or untied LM head).
import { quote } from './quote.ts';

export interface Qwen3Config {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  /** Per-head width; q_proj maps hiddenSize → numHeads·headDim, which need not equal hiddenSize. */
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  vocabSize: number;
  /** True when the LM head reuses model.embed_tokens (no lm_head.weight). */
  tieWordEmbeddings: boolean;
  maxPositionEmbeddings: number;
  bosTokenId: number | null;
  eosTokenId: number | null;
}

type Json = Record<string, unknown>;

function field(json: Json, key: string, source: string, check: (v: unknown) => boolean, expected: string): unknown {
  const value = json[key];
  if (value === undefined) throw new Error(`${source}: missing field "${key}" (expected ${expected})`);
  if (!check(value)) throw new Error(`${source}: field "${key}" is ${quote(value)}, expected ${expected}`);
  return value;
}

/**
 * Upper bounds far above any Qwen3 (the 235B has 94 layers, hidden 4096, 64 heads; the vocabulary
 * is 151,936; contexts reach 131,072): a config past them is broken or hostile, and refusing it
 * here keeps a load from building tensor lists or buffers sized by it.
 */
export const CONFIG_LIMITS = {
  hidden_size: 65_536,
  intermediate_size: 262_144,
  num_hidden_layers: 1_024,
  num_attention_heads: 1_024,
  head_dim: 1_024,
  vocab_size: 2_097_152,
  max_position_embeddings: 16_777_216,
} as const;

const intUpTo = (max: number) => (v: unknown) => Number.isInteger(v) && (v as number) > 0 && (v as number) <= max;
const sized = (key: keyof typeof CONFIG_LIMITS) => [intUpTo(CONFIG_LIMITS[key]), `an integer in [1, ${CONFIG_LIMITS[key]}]`] as const;
const size = (json: Json, key: keyof typeof CONFIG_LIMITS, source: string) => field(json, key, source, ...sized(key)) as number;
const numberIn = (min: number, max: number) => (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > min && v < max;
const tokenId = (json: Json, key: string, source: string): number | null => {
  const value = json[key];
  if (value === undefined || value === null) return null;
  if (Number.isInteger(value) && (value as number) >= 0) return value as number;
  throw new Error(`${source}: field "${key}" is ${quote(value)}, expected a token id`);
};

const ROPE_THETA = [numberIn(0, 1e12), 'a positive number below 1e12'] as const;
const ROPE_PARAMETER_KEYS = new Set(['rope_type', 'type', 'rope_theta']);

/**
 * RoPE's base: transformers < 5 writes `rope_theta` (with `rope_scaling`), ≥ 5 writes
 * `rope_parameters: {"rope_type": "default", "rope_theta": …}` instead. Either is read; a file
 * with both must agree, and only plain RoPE (rope_type "default", no scaling keys) is run.
 */
function ropeTheta(c: Json, source: string): number {
  const top = c.rope_theta === undefined ? undefined : (field(c, 'rope_theta', source, ...ROPE_THETA) as number);
  const params = c.rope_parameters;
  if (params === undefined || params === null) {
    if (top === undefined) throw new Error(`${source}: missing field "rope_theta" (or "rope_parameters"."rope_theta"), expected ${ROPE_THETA[1]}`);
    return top;
  }
  if (typeof params !== 'object' || Array.isArray(params)) throw new Error(`${source}: field "rope_parameters" is ${quote(params)}, expected an object`);
  const p = params as Json;
  const unknown = Object.keys(p).filter((key) => !ROPE_PARAMETER_KEYS.has(key));
  if (unknown.length > 0) {
    throw new Error(`${source}: rope_parameters has ${unknown.map((key) => `"${key}"`).join(', ')}: only plain RoPE (rope_type "default" and rope_theta) is supported`);
  }
  const type = p.rope_type ?? p.type ?? 'default';
  if (type !== 'default') throw new Error(`${source}: rope_parameters.rope_type is ${quote(type)}, only "default" (plain RoPE) is supported`);
  const nested = p.rope_theta === undefined ? undefined : (field(p, 'rope_theta', `${source}: rope_parameters`, ...ROPE_THETA) as number);
  if (nested === undefined && top === undefined) {
    throw new Error(`${source}: missing field "rope_parameters"."rope_theta" (or "rope_theta"), expected ${ROPE_THETA[1]}`);
  }
  if (nested !== undefined && top !== undefined && nested !== top) {
    throw new Error(`${source}: rope_theta ${top} and rope_parameters.rope_theta ${nested} disagree: the file must give RoPE one base`);
  }
  return (nested ?? top)!;
}

/** Parses and validates a Qwen3 config.json object; errors name the field and what was expected. */
export function parseQwen3Config(json: unknown, source = 'config.json'): Qwen3Config {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`${source}: expected a JSON object`);
  }
  const c = json as Json;
  if (c.model_type !== undefined && c.model_type !== 'qwen3') {
    throw new Error(`${source}: model_type is ${quote(c.model_type)}, expected "qwen3"`);
  }
  if (c.hidden_act !== undefined && c.hidden_act !== 'silu') {
    throw new Error(`${source}: hidden_act is ${quote(c.hidden_act)}, expected "silu"`);
  }
  if (c.attention_bias !== undefined && c.attention_bias !== false) {
    throw new Error(`${source}: attention_bias is ${quote(c.attention_bias)}, expected false`);
  }
  if (c.rope_scaling !== undefined && c.rope_scaling !== null) {
    throw new Error(`${source}: rope_scaling is ${quote(c.rope_scaling)}, only null (plain RoPE) is supported`);
  }
  const hiddenSize = size(c, 'hidden_size', source);
  const numHeads = size(c, 'num_attention_heads', source);
  const numKvHeads = field(c, 'num_key_value_heads', source, intUpTo(numHeads), `an integer in [1, num_attention_heads ${numHeads}]`) as number;
  if (numHeads % numKvHeads !== 0) {
    throw new Error(`${source}: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  }
  let headDim: number;
  if (c.head_dim === undefined || c.head_dim === null) {
    if (hiddenSize % numHeads !== 0) {
      throw new Error(`${source}: no head_dim and hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads}`);
    }
    headDim = hiddenSize / numHeads;
  } else {
    headDim = size(c, 'head_dim', source);
  }
  if (headDim % 2 !== 0) throw new Error(`${source}: head_dim ${headDim} must be even for RoPE`);
  const tie = c.tie_word_embeddings;
  if (tie !== undefined && typeof tie !== 'boolean') {
    throw new Error(`${source}: field "tie_word_embeddings" is ${quote(tie)}, expected true or false`);
  }
  const maxPositions = c.max_position_embeddings;
  if (maxPositions !== undefined) size(c, 'max_position_embeddings', source);
  return {
    hiddenSize,
    intermediateSize: size(c, 'intermediate_size', source),
    numLayers: size(c, 'num_hidden_layers', source),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: field(c, 'rms_norm_eps', source, numberIn(0, 1), 'a positive number below 1') as number,
    ropeTheta: ropeTheta(c, source),
    vocabSize: size(c, 'vocab_size', source),
    // transformers' PretrainedConfig defaults tie_word_embeddings to true.
    tieWordEmbeddings: tie ?? true,
    maxPositionEmbeddings: (maxPositions as number | undefined) ?? 40960,
    bosTokenId: tokenId(c, 'bos_token_id', source),
    eosTokenId: tokenId(c, 'eos_token_id', source),
  };
}

/** The config.json object transformers writes for a Qwen3ForCausalLM with this config. */
export function qwen3ConfigJson(config: Qwen3Config, torchDtype: 'float32' | 'bfloat16' | 'float16'): Json {
  return {
    architectures: ['Qwen3ForCausalLM'],
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenId,
    head_dim: config.headDim,
    hidden_act: 'silu',
    hidden_size: config.hiddenSize,
    initializer_range: 0.02,
    intermediate_size: config.intermediateSize,
    max_position_embeddings: config.maxPositionEmbeddings,
    max_window_layers: config.numLayers,
    model_type: 'qwen3',
    num_attention_heads: config.numHeads,
    num_hidden_layers: config.numLayers,
    num_key_value_heads: config.numKvHeads,
    rms_norm_eps: config.rmsNormEps,
    rope_scaling: null,
    rope_theta: config.ropeTheta,
    sliding_window: null,
    tie_word_embeddings: config.tieWordEmbeddings,
    torch_dtype: torchDtype,
    use_cache: true,
    use_sliding_window: false,
    vocab_size: config.vocabSize,
  };
}
