// The generation loop: prefill the prompt once, then one decode step per new token, each
// reusing the KV cache the decoder keeps, until a stop token or the token budget.
import { DEFAULT_PROMPT_FORMAT, type PromptFormat } from '../model/prompt.ts';
import { mulberry32 } from '../random.ts';
import { sampleToken, stripThink, validateSampling, type SamplingOptions } from './sampling.ts';
import type { Qwen3Tokenizer } from './tokenizer.ts';

/** A causal LM with a KV cache (see src/engine/session.ts); backend-agnostic. */
export interface Decoder {
  /** Appends `ids` to the cached sequence and returns the logits of the last one, [vocab]. */
  forward(ids: readonly number[]): Promise<Float32Array>;
  /** Forgets the cached sequence. */
  reset(): Promise<void>;
}

export interface Generation {
  /** New token ids, without the stop token. */
  ids: number[];
  finish: 'stop' | 'length';
}

export async function generate(
  decoder: Decoder,
  promptIds: readonly number[],
  options: SamplingOptions,
  onToken?: (id: number) => void,
): Promise<Generation> {
  validateSampling(options);
  if (promptIds.length === 0) throw new Error('generate: the prompt has no tokens');
  const rng = mulberry32(options.seed);
  await decoder.reset();
  let logits = await decoder.forward(promptIds);
  const ids: number[] = [];
  while (ids.length < options.maxNewTokens) {
    const next = sampleToken(logits, options, rng);
    if (options.stopTokens.includes(next)) return { ids, finish: 'stop' };
    ids.push(next);
    onToken?.(next);
    if (ids.length === options.maxNewTokens) break;
    logits = await decoder.forward([next]);
  }
  return { ids, finish: 'length' };
}

export interface Expansion extends Generation {
  /** Decoded completion with a leading <think>…</think> removed: what the scorers read. */
  text: string;
}

/** One QMD query expansion: the prompt in `format` (with `intent`'s line when given), generated until <|im_end|> or the budget. */
export async function expand(
  decoder: Decoder,
  tokenizer: Qwen3Tokenizer,
  query: string,
  options: SamplingOptions,
  format: PromptFormat = DEFAULT_PROMPT_FORMAT,
  intent?: string,
): Promise<Expansion> {
  const generation = await generate(decoder, tokenizer.promptIds(query, format, intent), options);
  return { ...generation, text: stripThink(tokenizer.decode(generation.ids)).trim() };
}
