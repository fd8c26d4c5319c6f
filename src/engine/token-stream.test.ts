import { describe, expect, it } from 'vitest';
import { loadBundledTokenizer } from './tokenizer-node.ts';
import { TokenStream } from './token-stream.ts';

describe('TokenStream', () => {
  it('streams pieces that add up to the decoded text, multi-byte characters included', async () => {
    const tokenizer = await loadBundledTokenizer();
    const text = 'lex: café ☕ 東京 ramen 🍜\nvec: where to eat ramen in Tōkyō';
    const ids = tokenizer.encode(text);
    let clock = 0;
    const stream = new TokenStream(tokenizer, () => clock);
    const pieces = ids.map((id) => {
      clock += 250;
      return stream.push(id);
    });
    expect(pieces.map((p) => p.text).join('')).toBe(tokenizer.decode(ids));
    expect(pieces.some((p) => p.text === '')).toBe(true); // an emoji spans several byte-level tokens
    expect(stream.tokensPerSecond()).toBeCloseTo(4, 6); // one token every 250 ms after the first
  });
});
