import { describe, expect, it } from 'vitest';
import { CHUNK_CHARS, CHUNK_OVERLAP_CHARS, CHUNK_WINDOW_CHARS, chunkNote } from './chunk.ts';

const fill = (char: string, n: number) => char.repeat(n);
const ends = (chunks: { text: string; pos: number }[]) => chunks.map((c) => c.pos + c.text.length);

describe('chunkNote (QMD chunkDocument)', () => {
  it('uses QMD sizes: 900 tokens with 15 % overlap at 4 characters a token, an 800-character window', () => {
    expect([CHUNK_CHARS, CHUNK_OVERLAP_CHARS, CHUNK_WINDOW_CHARS]).toEqual([3600, 540, 800]);
  });

  it('keeps a note of at most 3,600 characters whole', () => {
    const text = fill('a', 3600);
    expect(chunkNote(text)).toEqual([{ text, pos: 0 }]);
    expect(chunkNote('')).toEqual([{ text: '', pos: 0 }]);
  });

  it('without break points cuts at 3,600 and starts the next chunk 540 characters back', () => {
    const chunks = chunkNote(fill('x', 8000));
    expect(chunks.map((c) => c.pos)).toEqual([0, 3060, 6120]);
    expect(ends(chunks)).toEqual([3600, 6660, 8000]);
  });

  it('prefers a heading well inside the window over a paragraph break near the target', () => {
    // h2 at 3000: 90 × (1 − (600/800)² × 0.7) ≈ 54.6; blank line at 3500: 20 × (1 − (100/800)² × 0.7) ≈ 19.8.
    const text = fill('a', 3000) + '\n## Next' + fill('b', 492) + '\n\n' + fill('c', 3000);
    expect(text.indexOf('\n\n')).toBe(3500);
    const [first, second] = chunkNote(text);
    expect(first!.text.length).toBe(3000);
    expect(second!.pos).toBe(3000 - 540);
  });

  it('never cuts inside a code fence, not even at a heading or the closing fence there', () => {
    // Fence from 2700 to 3404; inside it an h1 at 3100 (≈ 72.7 if it counted) and the closing ``` at 3400.
    let text = fill('a', 2700) + '\n```\n';
    text += fill('b', 3100 - text.length) + '\n# inside\n';
    text += fill('b', 3400 - text.length) + '\n```';
    text += fill('c', 3550 - text.length) + '\n\n' + fill('d', 3000);
    expect([text.indexOf('\n# inside'), text.lastIndexOf('\n```'), text.indexOf('\n\n')]).toEqual([3100, 3400, 3550]);
    expect(chunkNote(text)[0]!.text.length).toBe(3550);
  });

  it('ignores break points before the window', () => {
    const text = fill('a', 2799) + '\n# early' + fill('b', 3000);
    expect(chunkNote(text)[0]!.text.length).toBe(3600);
  });

  it('never splits a surrogate pair', () => {
    const text = fill('a', 3599) + '😀' + fill('a', 2000);
    const chunks = chunkNote(text);
    expect(chunks[0]!.text.length).toBe(3599);
    for (const c of chunks) expect(c.text).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
    expect(chunks.map((c) => c.text).join('').replace(/a/g, '')).toContain('😀');
  });

  it('covers the whole note, in order, each chunk overlapping the one before', () => {
    const text = Array.from({ length: 400 }, (_, i) => `${i % 25 === 0 ? '\n## Part ' : '\n'}line ${i} ${fill('w', i % 40)}`).join('');
    const chunks = chunkNote(text);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks[0]!.pos).toBe(0);
    expect(ends(chunks).at(-1)).toBe(text.length);
    for (let i = 1; i < chunks.length; i++) {
      expect(chunks[i]!.pos).toBeGreaterThan(chunks[i - 1]!.pos);
      expect(chunks[i]!.pos).toBeLessThan(ends(chunks)[i - 1]!);
      expect(text.slice(chunks[i]!.pos, ends(chunks)[i])).toBe(chunks[i]!.text);
    }
  });
});
