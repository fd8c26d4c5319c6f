// The Qwen3 tokenizer (transformers.js, loaded from a local folder — never the network),
// turning QMD prompts (src/model/prompt.ts) and completions into token ids.
import { AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers';
import { DEFAULT_PROMPT_FORMAT, qmdPrompt, type PromptFormat } from '../model/prompt.ts';

export const IM_END = 151645; // <|im_end|>
export const END_OF_TEXT = 151643; // <|endoftext|>
export const STOP_TOKENS: readonly number[] = [IM_END, END_OF_TEXT];

/** A training example as token ids, with the completion (and its closing <|im_end|>) marked for the loss. */
export interface TokenizedExample {
  readonly ids: number[];
  /** 1 where the token is predicted by the loss (completion + <|im_end|>), 0 on the prompt. */
  readonly completionMask: number[];
}

export class Qwen3Tokenizer {
  constructor(readonly inner: PreTrainedTokenizer) {}

  /** Token ids of `text` as written (special tokens in the text are recognized, none are added). */
  encode(text: string): number[] {
    return this.inner.encode(text, { add_special_tokens: false });
  }

  decode(ids: readonly number[], skipSpecial = true): string {
    // transformers.js throws on no ids; a completion that stops at its first token has none.
    return ids.length === 0 ? '' : this.inner.decode([...ids], { skip_special_tokens: skipSpecial });
  }

  /** The prompt of `query` in `format`; a row's `intent` adds its line to the user turn. */
  promptIds(query: string, format: PromptFormat = DEFAULT_PROMPT_FORMAT, intent?: string): number[] {
    return this.encode(qmdPrompt(query, format, intent));
  }

  example(query: string, completion: string, format: PromptFormat = DEFAULT_PROMPT_FORMAT, intent?: string): TokenizedExample {
    const prompt = this.promptIds(query, format, intent);
    const answer = [...this.encode(completion), IM_END];
    return { ids: [...prompt, ...answer], completionMask: [...prompt.map(() => 0), ...answer.map(() => 1)] };
  }
}

/**
 * Loads tokenizer.json + tokenizer_config.json from `dir` (a filesystem path in node, a URL
 * path in the browser). Remote models are switched off so a missing file fails here instead
 * of reaching for the hub.
 */
export async function loadTokenizer(dir: string): Promise<Qwen3Tokenizer> {
  const trimmed = dir.replace(/\/+$/, '');
  const cut = trimmed.lastIndexOf('/');
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = cut >= 0 ? `${trimmed.slice(0, cut)}/` : './';
  const tokenizer = await AutoTokenizer.from_pretrained(trimmed.slice(cut + 1));
  return new Qwen3Tokenizer(tokenizer);
}
