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
  /** Where the decoder can: forward's argmax without the logits (Qwen3Session: on the device). Greedy generation uses it. */
  forwardGreedy?(ids: readonly number[]): Promise<number>;
}

export interface Generation {
  /** New token ids, without the stop token. */
  ids: number[];
  finish: 'stop' | 'length';
}

/**
 * One sequence being sampled: its seeded generator, its new tokens and, once it has ended, why.
 * generate runs one; GRPO's rollout runs a prompt's G side by side in one batch, each with its own.
 */
export class Continuation {
  readonly ids: number[] = [];
  finish: Generation['finish'] | null = null;
  private readonly rng: () => number;

  constructor(private readonly options: SamplingOptions) {
    validateSampling(options);
    this.rng = mulberry32(options.seed);
  }

  /** Samples the next token from `logits` and returns it: a stop token ends the sequence ('stop', not kept), the budget's last token too ('length'). */
  take(logits: Float32Array): number {
    return this.took(sampleToken(logits, this.options, this.rng));
  }

  /** Records `next`, a token chosen elsewhere (a greedy argmax made on the device), as take does. */
  took(next: number): number {
    if (this.options.stopTokens.includes(next)) this.finish = 'stop';
    else if (this.ids.push(next) === this.options.maxNewTokens) this.finish = 'length';
    return next;
  }
}

export async function generate(
  decoder: Decoder,
  promptIds: readonly number[],
  options: SamplingOptions,
  onToken?: (id: number) => void,
): Promise<Generation> {
  const sequence = new Continuation(options);
  if (promptIds.length === 0) throw new Error('generate: the prompt has no tokens');
  await decoder.reset();
  // Greedy needs only each step's argmax: where the decoder gives it, no logits are read back.
  const greedy = options.greedy && decoder.forwardGreedy ? decoder.forwardGreedy.bind(decoder) : null;
  const step = async (ids: readonly number[]) => (greedy ? sequence.took(await greedy(ids)) : sequence.take(await decoder.forward(ids)));
  let next = await step(promptIds);
  for (;;) {
    if (sequence.finish !== 'stop') onToken?.(next);
    if (sequence.finish) return { ids: sequence.ids, finish: sequence.finish };
    next = await step([next]);
  }
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
