// Streamed text of a generation: the text each new token adds, and the decode rate. A token alone
// may be part of a UTF-8 character (byte-level BPE splits emoji and CJK characters across
// tokens), so tokens are held until their bytes decode to whole characters: no piece ever carries
// the U+FFFD that a half character decodes to. Only the held tokens are decoded at each step; a
// byte-level decode of whole characters is the concatenation of its parts.
import type { Qwen3Tokenizer } from './tokenizer.ts';

export interface StreamedToken {
  id: number;
  /** Text this token adds; '' while it ends in an incomplete character. */
  text: string;
  tokensPerSecond: number;
}

export class TokenStream {
  /** Tokens since the text last ended on a whole character. */
  readonly #held: number[] = [];
  #count = 0;
  #firstAt = 0;

  constructor(
    private readonly tokenizer: Pick<Qwen3Tokenizer, 'decode'>,
    private readonly now: () => number = () => performance.now(),
  ) {}

  push(id: number): StreamedToken {
    this.#held.push(id);
    if (++this.#count === 1) this.#firstAt = this.now();
    const text = this.tokenizer.decode(this.#held);
    // U+FFFD at the end is a character whose remaining bytes come with a later token.
    if (text.endsWith('\uFFFD')) return { id, text: '', tokensPerSecond: this.tokensPerSecond() };
    this.#held.length = 0;
    return { id, text, tokensPerSecond: this.tokensPerSecond() };
  }

  /** Decode speed: tokens after the first over the time since it (the prompt's prefill excluded). */
  tokensPerSecond(): number {
    const seconds = (this.now() - this.#firstAt) / 1000;
    return this.#count > 1 && seconds > 0 ? (this.#count - 1) / seconds : 0;
  }
}
