import { describe, expect, it } from 'vitest';
import { loadBundledTokenizer } from './tokenizer-node.ts';
import { TokenStream } from './token-stream.ts';

const tokenizer = await loadBundledTokenizer();

/** Every piece the stream emits for `ids`, and how many tokens it decoded in all. */
function stream(ids: number[]) {
  let decoded = 0;
  const counting = { decode: (held: readonly number[]) => ((decoded += held.length), tokenizer.decode(held)) };
  const s = new TokenStream(counting);
  return { pieces: ids.map((id) => s.push(id).text), decoded };
}

describe('TokenStream', () => {
  it('streams pieces that add up to the decoded text, multi-byte characters included', () => {
    const text = 'lex: café ☕ 東京 ramen 🍜\nvec: where to eat ramen in Tōkyō';
    const ids = tokenizer.encode(text);
    let clock = 0;
    const s = new TokenStream(tokenizer, () => clock);
    const pieces = ids.map((id) => {
      clock += 250;
      return s.push(id);
    });
    expect(pieces.map((p) => p.text).join('')).toBe(tokenizer.decode(ids));
    expect(s.tokensPerSecond()).toBeCloseTo(4, 6); // one token every 250 ms after the first
  });

  it('holds a CJK character and an emoji split across Qwen3 tokens until their last byte arrives', () => {
    // Qwen3's own split of "中文 搜索": " \xe6" then "\x90\x9c索" — 搜 (e6 90 9c) spans two tokens.
    const cjk = [104811, 6567, 68941];
    expect(tokenizer.decode([6567])).toBe(' \uFFFD');
    // 🍜 (f0 9f 8d 9c) as four single-byte tokens, as a sampled generation may produce it.
    const emoji = [172, 253, 235, 250];
    expect(tokenizer.decode(emoji)).toBe('🍜');
    const ids = [...tokenizer.encode('ramen '), ...emoji, ...cjk, ...tokenizer.encode(' 查询')];
    const { pieces, decoded } = stream(ids);
    expect(pieces.join('')).toBe('ramen 🍜中文 搜索 查询');
    expect(pieces.filter((p) => p.includes('\uFFFD'))).toEqual([]);
    expect(pieces.slice(3, 7)).toEqual(['', '', '', '🍜']);
    expect(pieces.slice(7, 10)).toEqual(['中文', '', ' 搜索']);
    // Only held tokens are decoded again (1 + 2 + 3 for the emoji's, 1 for 搜's), not the whole sequence each time.
    expect(decoded).toBe(ids.length + 6 + 1);
  });

  it('shows a byte that no later token completes, as the full decode does', () => {
    // A lone lead byte followed by a space: the U+FFFD is in the text for good.
    const ids = [172, ...tokenizer.encode(' ok')];
    const { pieces } = stream(ids);
    expect(pieces.join('')).toBe(tokenizer.decode(ids));
    expect(pieces.join('')).toBe('\uFFFD ok');
  });
});
