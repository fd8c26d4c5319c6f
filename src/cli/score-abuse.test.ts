// `qmd score` on hostile input, in process: every bad line gets {"line": N, "error": …} with its
// number, every good line is still scored, and the run always reaches the end.
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../random.ts';
import { MAX_EXPANSION_CHARS, MAX_QUERY_CHARS, scoreBoth } from '../scoring/index.ts';
import { sharedFile } from '../testing/shared.ts';
import { scoreStream } from './score.ts';

const fixture = sharedFile('fixtures/scoring-reference.jsonl');
const encode = (text: string) => new TextEncoder().encode(text);

async function* chunks(bytes: Uint8Array, size = 4096): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

async function score(input: Uint8Array | string, size?: number) {
  let text = '';
  const output = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  const failed = await scoreStream(chunks(typeof input === 'string' ? encode(input) : input, size), output);
  const out = text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
  return { failed, out, bytes: text.length };
}

const good = (i: number) => ({ query: `install docker ${i}`, expansion: `lex: docker install ${i}\nvec: how to install docker ${i}` });
const scored = (row: { query: string; expansion: string }) => ({ ...row, ...scoreBoth(row.query, row.expansion) });

describe('qmd score on hostile input', () => {
  it('reports a row nested 10,000 deep by its line and scores the rows before and after it', async () => {
    const deep = `{"query": "q", "expansion": "lex: a", "extra": ${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
    const { failed, out } = await score([good(1), good(2), deep, good(3)].map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n'));
    expect(failed).toBe(1);
    expect(out).toEqual([
      scored(good(1)),
      scored(good(2)),
      { line: 3, error: 'JSON too deep: arrays and objects nest deeper than 64 levels (at position 110); the limit is 64' },
      scored(good(3)),
    ]);
  });

  it('refuses inputs beyond the scorers\' limits per row, naming the limit, and goes on', async () => {
    const rows = [
      { query: 'q', expansion: 'lex: a\n'.repeat(10_000) },
      good(1),
      { query: 'x'.repeat(MAX_QUERY_CHARS + 1), expansion: 'lex: a' },
      { query: 'q', expansion: `lex: ${'a'.repeat(MAX_EXPANSION_CHARS)}` },
    ];
    const { failed, out, bytes } = await score(rows.map((r) => JSON.stringify(r)).join('\n'));
    expect(failed).toBe(3);
    expect(out.map((o) => o.line ?? 'scored')).toEqual([1, 'scored', 3, 4]);
    expect(out[0].error).toMatch(/^expansion is 70,000 characters; the scorers accept at most 32,768$/);
    expect(out[2].error).toMatch(/^query is 2,001 characters; the scorers accept at most 2,000$/);
    expect(out[3].error).toMatch(/^expansion is 32,773 characters/);
    // Refused rows cost one short line each, whatever their size.
    expect(bytes - JSON.stringify(out[1]).length).toBeLessThan(400);
  });

  it('a row with 20,000 keys is scored with its fields passed through; without "query" its error stays short', async () => {
    const keys = Object.fromEntries(Array.from({ length: 20_000 }, (_, k) => [`key_${k}`, k]));
    const { out } = await score([JSON.stringify({ ...good(1), ...keys }), JSON.stringify({ expansion: 'lex: a', ...keys })].join('\n'));
    expect(out[0]).toEqual({ ...scored(good(1)), ...keys });
    expect(out[1]).toEqual({ line: 2, error: 'field "query": expected a string, got nothing (field missing)' });
  });

  it('numbers lines across CR-only breaks and reports invalid UTF-8 by line', async () => {
    const bytes = new Uint8Array([
      ...encode(`${JSON.stringify(good(1))}\r\r{"query": "caf`),
      0xe9,
      ...encode(`", "expansion": "lex: cafe"}\r${JSON.stringify(good(2))}`),
    ]);
    const { failed, out } = await score(bytes, 7);
    expect(failed).toBe(1);
    expect(out).toEqual([
      scored(good(1)),
      { line: 3, error: 'invalid UTF-8 at byte 15 of the line (0xE9); expected UTF-8 text' },
      scored(good(2)),
    ]);
  });

  it('rows scored before a read error still reach the output', async () => {
    let text = '';
    const output = new Writable({
      write(chunk: Buffer, _encoding, done) {
        text += chunk.toString('utf8');
        done();
      },
    });
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield encode(`${JSON.stringify(good(1))}\n${JSON.stringify(good(2))}\n`);
      throw new Error('EIO: the disk went away');
    }
    await expect(scoreStream(failing(), output)).rejects.toThrow('EIO');
    expect(text.trimEnd().split('\n').map((l) => JSON.parse(l))).toEqual([scored(good(1)), scored(good(2))]);
  });

  it.skipIf(!fixture)('random byte mutations of fixture rows: each line scored or reported by its number', async () => {
    const random = mulberry32(11);
    const rows = readFileSync(fixture!, 'utf8').split('\n').slice(0, 300).filter((l) => l.trim() !== '');
    const inserts = [[0x5b], [0x7b], [0x22], [0x5c], [0x0d], [0x0a], [0xff], [0xe2, 0x82], encode('['.repeat(100)), encode(`"${'lex: a\\n'.repeat(5000)}"`)];
    const bytes: number[] = [];
    for (const row of rows) {
      const { query, expansion } = JSON.parse(row) as { query: string; expansion: string };
      const line = [...encode(JSON.stringify({ query, expansion }))];
      for (let m = Math.floor(random() * 3); m > 0; m--) {
        const at = Math.floor(random() * (line.length + 1));
        if (random() < 0.4) line.splice(at, 1 + Math.floor(random() * 4));
        else line.splice(at, 0, ...inserts[Math.floor(random() * inserts.length)]!);
      }
      bytes.push(...line, 0x0a);
    }
    const input = Uint8Array.from(bytes);
    const { failed, out } = await score(input, 1000);

    // The oracle: decode the whole file leniently, then cut on \r\n, \r or \n (CR and LF bytes never
    // sit inside a UTF-8 sequence, so this cuts where the CLI cuts).
    const lines = new TextDecoder().decode(input).split(/\r\n|\r|\n/).map((text, i) => ({ text, line: i + 1 })).filter((l) => l.text.trim() !== '');
    expect(out).toHaveLength(lines.length);
    expect(failed).toBe(out.filter((o) => 'error' in o).length);
    expect(failed).toBeGreaterThan(50);
    expect(lines.length - failed).toBeGreaterThan(50);
    out.forEach((o, i) => {
      if ('error' in o) {
        expect(o.line).toBe(lines[i].line);
        expect(JSON.stringify(o).length).toBeLessThan(400);
      } else {
        const row = JSON.parse(lines[i].text) as { query: string; expansion: string };
        expect(o).toEqual({ ...row, ...scoreBoth(row.query, row.expansion) });
      }
    });
  });
});
