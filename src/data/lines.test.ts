import { describe, expect, it } from 'vitest';
import { blobChunks, decodeLines, type Line } from './lines.ts';

async function collect(lines: AsyncIterable<Line>): Promise<Line[]> {
  const out: Line[] = [];
  for await (const line of lines) out.push(line);
  return out;
}

async function* chunked(bytes: Uint8Array, cuts: number[]): AsyncGenerator<Uint8Array> {
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    yield bytes.slice(start, cut);
    start = cut;
  }
}

const encode = (text: string) => new TextEncoder().encode(text);

describe('decodeLines', () => {
  // "é" is 2 bytes, "€" 3, "😀" 4: every cut position splits some character or a \r\n.
  const text = 'é€😀 one\r\n{"q":"ü"}\n\n€ last without newline';
  const expected = ['é€😀 one', '{"q":"ü"}', '', '€ last without newline'];

  it('gives the same lines for a cut at every byte position, in two and three chunks', async () => {
    const bytes = encode(text);
    for (let a = 0; a <= bytes.length; a++) {
      expect((await collect(decodeLines(chunked(bytes, [a])))).map((l) => l.text)).toEqual(expected);
      const b = Math.min(bytes.length, a + 3);
      expect((await collect(decodeLines(chunked(bytes, [a, b])))).map((l) => l.text)).toEqual(expected);
    }
  });

  it('drops a UTF-8 BOM, even when it arrives a byte at a time', async () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...encode('auth\nconfig')]);
    const lines = await collect(decodeLines(chunked(bytes, [1, 2, 3])));
    expect(lines.map((l) => l.text)).toEqual(['auth', 'config']);
  });

  it('numbers lines from 1 (blank ones too) and reports bytes read', async () => {
    const bytes = encode('a\n\nb\n');
    const lines = await collect(decodeLines(chunked(bytes, [2])));
    expect(lines).toEqual([
      { text: 'a', line: 1, bytes: 2 },
      { text: '', line: 2, bytes: 5 },
      { text: 'b', line: 3, bytes: 5 },
    ]);
  });

  it('reads a Blob through its stream', async () => {
    const blob = new Blob([encode(text)]);
    const lines = await collect(decodeLines(blobChunks(blob)));
    expect(lines.map((l) => l.text)).toEqual(expected);
    expect(lines.at(-1)?.bytes).toBe(blob.size);
  });

  it('stops with the abort reason when the signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(collect(decodeLines(blobChunks(new Blob(['a\n']), controller.signal)))).rejects.toThrow('stop');
  });
});
