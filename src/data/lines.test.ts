import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../random.ts';
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

  it('ends lines on a lone \\r (old Mac files) as on \\n and \\r\\n, one break for a \\r\\n split across chunks', async () => {
    const bytes = encode('a\rb\r\nc\n\rd\r\re');
    const expected = [
      { text: 'a', line: 1 },
      { text: 'b', line: 2 },
      { text: 'c', line: 3 },
      { text: '', line: 4 },
      { text: 'd', line: 5 },
      { text: '', line: 6 },
      { text: 'e', line: 7 },
    ];
    for (let a = 0; a <= bytes.length; a++) {
      for (const cuts of [[a], [a, Math.min(bytes.length, a + 1)]]) {
        const lines = await collect(decodeLines(chunked(bytes, cuts)));
        expect(lines.map(({ text, line }) => ({ text, line }))).toEqual(expected);
      }
    }
  });

  it('reports invalid UTF-8 on its own line, naming the byte, and goes on', async () => {
    const bytes = new Uint8Array([...encode('ok\n{"q":"a'), 0xff, ...encode('"}\r\n'), 0xe2, 0x82, ...encode('\nlast')]);
    const lines = await collect(decodeLines(chunked(bytes, [8])));
    expect(lines.map(({ line, error }) => ({ line, error }))).toEqual([
      { line: 1, error: undefined },
      { line: 2, error: 'invalid UTF-8 at byte 8 of the line (0xFF); expected UTF-8 text' },
      { line: 3, error: 'invalid UTF-8 at byte 1 of the line (0xE2); expected UTF-8 text' },
      { line: 4, error: undefined },
    ]);
    expect(lines[1].text).toBe('{"q":"a\ufffd"}');
  });

  it('keeps a real U+FFFD (bytes EF BF BD) as text', async () => {
    const lines = await collect(decodeLines(chunked(encode('{"q":"\ufffd"}'), [7])));
    expect(lines).toEqual([{ text: '{"q":"\ufffd"}', line: 1, bytes: 11 }]);
  });

  it('flags exactly the lines TextDecoder refuses, at the first byte it cannot decode (random bytes)', async () => {
    const random = mulberry32(7);
    const strict = new TextDecoder('utf-8', { fatal: true });
    // Bytes biased towards the edges of the UTF-8 tables: lead bytes, continuation bytes, overlong forms.
    const pool = [0x41, 0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff];
    for (let n = 0; n < 2000; n++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(random() * 6) }, () => pool[Math.floor(random() * pool.length)]!);
      const [line] = await collect(decodeLines(chunked(bytes, [])));
      let valid = true;
      try {
        strict.decode(bytes);
      } catch {
        valid = false;
      }
      expect(line.error === undefined).toBe(valid);
      if (!valid) {
        const at = Number(/at byte (\d+)/.exec(line.error!)![1]) - 1;
        // Everything before the blamed byte decodes; the blamed byte cannot start a valid rest.
        expect(() => strict.decode(bytes.subarray(0, at))).not.toThrow();
        expect(() => strict.decode(bytes.subarray(at))).toThrow();
      }
    }
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
