// Streamed text of a generation: each new token's text as the difference between the decoded
// sequence before and after it (a token alone may be half a UTF-8 character or need its
// neighbours' spacing), and the decode rate.
import type { Qwen3Tokenizer } from './tokenizer.ts';

export interface StreamedToken {
  id: number;
  /** Text this token adds; '' while it ends in an incomplete character. */
  text: string;
  tokensPerSecond: number;
}

export class TokenStream {
  readonly #ids: number[] = [];
  #shown = '';
  #firstAt = 0;

  constructor(
    private readonly tokenizer: Pick<Qwen3Tokenizer, 'decode'>,
    private readonly now: () => number = () => performance.now(),
  ) {}

  push(id: number): StreamedToken {
    this.#ids.push(id);
    if (this.#ids.length === 1) this.#firstAt = this.now();
    const full = this.tokenizer.decode(this.#ids);
    let text = '';
    // U+FFFD at the end is a character whose remaining bytes come with the next token.
    if (!full.endsWith('\uFFFD') && full.startsWith(this.#shown)) {
      text = full.slice(this.#shown.length);
      this.#shown = full;
    }
    return { id, text, tokensPerSecond: this.tokensPerSecond() };
  }

  /** Decode speed: tokens after the first over the time since it (the prompt's prefill excluded). */
  tokensPerSecond(): number {
    const seconds = (this.now() - this.#firstAt) / 1000;
    return this.#ids.length > 1 && seconds > 0 ? (this.#ids.length - 1) / seconds : 0;
  }
}
