// Names of the Qwen3 graphs' inputs and outputs: the contract between the graph builders
// (decoder.ts, train-step.ts) and the engine that feeds them. Weights keep their HF names.
import type { LoraTarget } from '../tensors.ts';

/**
 * A matrix uploaded transposed, as the right operand of its MatMul ([out, in] → [in, out],
 * a vocabulary chunk [V_k, D] → [D, V_k]): its input name plus `^T`. The name says the
 * layout, so no graph ever transposes a weight per run and no caller can feed the wrong one.
 */
export const transposed = (name: string) => `${name}^T`;

/**
 * A matrix uploaded as 4-bit blocks (layout 'q4', q4.ts): its input name plus `^q4.packed` for the
 * codes uint8 [N, K/32, 16] and `^q4.scales` for the scales [N, K/32], as MatMulNBits reads them.
 */
export const q4 = (name: string, part: 'packed' | 'scales') => `${name}^q4.${part}`;

export const INPUT_IDS = 'input_ids'; // int64 [B, T]
/** With the vocabulary in chunks (layout.ts), per chunk k instead of input_ids: */
export const chunkRows = (k: number) => `input_rows#${k}`; // int64 [B, T] row within chunk k, 0 outside it
export const chunkMask = (k: number) => `input_mask#${k}`; // [B, T, 1] 1 where the token is in chunk k
export const ROPE_COS = 'rope_cos'; // [T, hd]
export const ROPE_SIN = 'rope_sin'; // [T, hd]
export const ATTN_BIAS = 'attn_bias'; // [T, P + T] additive causal mask
/** The fused decoder's (decoder-fused.ts) instead of rope_cos, rope_sin and attn_bias: */
export const ROPE_COS_CACHE = 'rope_cos_cache'; // [positions, hd / 2] cos(pos·θ^(−2j/hd)), uploaded once
export const ROPE_SIN_CACHE = 'rope_sin_cache'; // [positions, hd / 2]
export const SEQLENS_K = 'seqlens_k'; // int32 [B] keys per row − 1 after this run: P + T − 1
export const TOTAL_SEQUENCE_LENGTH = 'total_sequence_length'; // int32 [] P + T
export const LORA_SCALE = 'lora_scale'; // [] alpha / r; 0 runs the base model
export const LOGITS = 'logits'; // [B, V] last position
export const NEXT_TOKEN = 'next_token'; // int64 [B]: the last position's argmax (a greedy decode graph's output instead of LOGITS)

export const pastKey = (layer: number) => `past_key.${layer}`; // [B, KV, P, hd]
export const pastValue = (layer: number) => `past_value.${layer}`;
export const presentKey = (layer: number) => `present_key.${layer}`; // [B, KV, P + T, hd]
export const presentValue = (layer: number) => `present_value.${layer}`;

/** LoRA matrices in PEFT's layout: A [r, in], B [out, r]. */
export const loraA = (layer: number, target: LoraTarget) => `lora.${layer}.${target}.A`;
export const loraB = (layer: number, target: LoraTarget) => `lora.${layer}.${target}.B`;
/** LoRA dropout (train step with dropout > 0): the masks are made in the graph from these (dropout.ts). */
export const DROPOUT_RUN_KEY = 'dropout_run_key'; // int32 []
export const DROPOUT_STEP_KEY = 'dropout_step_key'; // int32 []
export const DROPOUT_THRESHOLD = 'dropout_threshold'; // int32 []
export const DROPOUT_SCALE = 'dropout_scale'; // [] 1 / (1 − p)

// Train step.
export const LOSS_SELECT = 'loss_select'; // [N, B·T] one-hot rows: which hidden state predicts each target
export const LOSS_TARGET = 'loss_target'; // int64 [N] next-token ids
/** With the vocabulary in chunks, per chunk k instead of loss_target: */
export const lossTargetRows = (k: number) => `loss_target_rows#${k}`; // int64 [N] row within chunk k, 0 outside it
export const lossTargetMask = (k: number) => `loss_target_mask#${k}`; // [N, 1] 1 where the target is in chunk k
export const LOSS_WEIGHT = 'loss_weight'; // [N] 1 real, 0 bucket padding
export const LOSS = 'loss'; // [] mean CE over real positions
export const TOKEN_COUNT = 'token_count'; // []
export const gradName = (param: string) => `grad.${param}`;

// Sequence scorer (score-graph.ts); its targets are the train step's loss_target inputs.
export const SCORE_POSITIONS = 'score_positions'; // int64 [N] the position whose logits predict each target
export const INVERSE_TEMPERATURE = 'inverse_temperature'; // [] 1 / T: log-probabilities of logits / T
export const TARGET_LOGP = 'target_logp'; // [N] log softmax(logits / T)[target]
