// llama.cpp (node-llama-cpp, CPU) as the independent Qwen3 implementation our numerics are checked
// against. The F32 KV cache and no flash attention matter: the default F16 cache alone costs ~1e-3.
import { getLlama, LlamaLogLevel, type ControlledEvaluateInputItem, type Llama, type LlamaContext, type LlamaModel, type Token } from 'node-llama-cpp';

/** "<|im_start|>user\n/no_think Expand this search query: …" — any valid ids do; these span the vocabulary. */
export const PROMPT_IDS = [151644, 872, 198, 14, 2152, 26865, 9190, 419, 2711, 3239, 25, 3704, 5975, 151645, 198, 151644, 77091, 198];

export function cpuLlama(): Promise<Llama> {
  return getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
}

/** A small context with the F32 KV cache, and a GGUF LoRA adapter applied at scale 1 when given. */
function llamaContext(model: LlamaModel, loraPath: string | null): Promise<LlamaContext> {
  return model.createContext({
    contextSize: 64,
    experimentalKvCacheKeyType: 'F32',
    experimentalKvCacheValueType: 'F32',
    flashAttention: false,
    lora: loraPath ? { adapters: [{ filePath: loraPath, scale: 1 }] } : undefined,
  });
}

/** llama.cpp's log-probabilities of the token after `ids`, with an optional GGUF LoRA adapter. */
export async function llamaLogProbs(model: LlamaModel, ids: readonly number[], loraPath: string | null = null): Promise<Float64Array> {
  const context = await llamaContext(model, loraPath);
  const tokens = ids as Token[];
  const input: ControlledEvaluateInputItem[] = tokens.slice(0, -1);
  // temperature 1 and no truncation: the probabilities are softmax(logits) itself.
  input.push([tokens.at(-1)!, { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } }]);
  const output = await context.getSequence().controlledEvaluate(input);
  const probabilities = output.at(-1)!.next.probabilities!;
  await context.dispose();
  return Float64Array.from({ length: probabilities.size }, (_, i) => Math.log(probabilities.get(i as Token)!));
}

/**
 * max |log_softmax(logits) − llama's log p| / max |logit|. node-llama-cpp hands out probabilities,
 * not logits, so the comparison is made in log-probability space, scaled by the logits' size.
 */
export function relativeLogProbError(logits: ArrayLike<number>, logProbs: Float64Array): number {
  if (logits.length !== logProbs.length) {
    throw new Error(`relativeLogProbError: ${logits.length} logits vs ${logProbs.length} llama.cpp probabilities`);
  }
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const logSum = max + Math.log(sum);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < logits.length; i++) {
    worst = Math.max(worst, Math.abs(logits[i]! - logSum - logProbs[i]!));
    scale = Math.max(scale, Math.abs(logits[i]!));
  }
  return worst / scale;
}

/**
 * llama.cpp's greedy (temperature 0) next token after `ids` and after each longer prefix of
 * `ids` + `continuation`: `continuation.length + 1` tokens in one evaluation. They equal
 * `continuation` and its next token exactly when llama.cpp's own greedy continuation of `ids` is
 * that (by induction over the prefixes), at a tenth of the cost: node-llama-cpp's token-by-token
 * `evaluate` took ~0.7 s a token here (6 tokens: 4 s) against 0.6 s for all 6 this way.
 */
export async function llamaGreedyAlong(model: LlamaModel, ids: readonly number[], continuation: readonly number[], loraPath: string | null = null): Promise<number[]> {
  const context = await llamaContext(model, loraPath);
  const tokens = [...ids, ...continuation] as Token[];
  const input: ControlledEvaluateInputItem[] = tokens.slice(0, ids.length - 1);
  for (const token of tokens.slice(ids.length - 1)) input.push([token, { generateNext: { token: true, options: { temperature: 0 } } }]);
  const output = await context.getSequence().controlledEvaluate(input);
  await context.dispose();
  return output.flatMap((item) => (item?.next?.token == null ? [] : [item.next.token]));
}
