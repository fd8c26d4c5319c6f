// Hostile input for decodeShare: whatever comes in, the answer is a payload (only for an
// unchanged link) or a ShareError — never another exception, never a hang, never a big allocation.
import { readFileSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { sharedFile } from '../testing/shared.ts';
import { decodeShare, encodeShare, MAX_JSON_BYTES } from './link.ts';
import { payloadOfResult, type SharePayload } from './payload.ts';
import { importPythonEval } from './python-eval.ts';
import { referenceFrame, referenceLink } from './reference-link.ts';
import { ShareError, type ShareErrorKind } from './share-error.ts';

/** Park–Miller: the same fuzz cases on every run. */
function random(seed: number) {
  let state = seed;
  const next = () => (state = (state * 48271) % 2147483647) / 2147483647;
  return { next, int: (n: number) => Math.floor(next() * n) };
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function kindOf(input: string): ShareErrorKind | 'ok' {
  try {
    decodeShare(input);
    return 'ok';
  } catch (error) {
    if (!(error instanceof ShareError)) throw new Error(`non-ShareError for ${JSON.stringify(input.slice(0, 80))}: ${String(error)}`);
    return error.kind;
  }
}

const grpoPath = sharedFile('data/evaluation_v4_grpo.json');
const grpoPayload = grpoPath ? payloadOfResult((await importPythonEval(readFileSync(grpoPath, 'utf8'), 'evaluation_v4_grpo.json')).result) : null;

function samplePayload(): SharePayload {
  if (grpoPayload) return grpoPayload;
  const rng = random(3);
  const words = ['lex', 'vec', 'hyde', 'auth', 'config', 'rust', 'node.js', 'streams', 'how', 'to'];
  const line = (n: number) => Array.from({ length: n }, () => words[rng.int(words.length)]).join(' ');
  return {
    v: 1,
    model: { base: 'Qwen/Qwen3-0.6B', adapter: null },
    profile: 'eval',
    settings: null,
    pairs: Array.from({ length: 21 }, () => ({ query: line(3), expansion: `lex: ${line(2)}\nvec: ${line(6)}\nhyde: ${line(20)}` })),
  };
}

describe('decodeShare under fuzzing', () => {
  it('answers every hostile input with a ShareError, quickly', () => {
    const started = performance.now();
    const rng = random(20261101);
    const payload = samplePayload();
    const link = encodeShare(payload);
    const kinds = new Map<string, number>();
    const tally = (input: string, expected?: ShareErrorKind) => {
      const kind = kindOf(input);
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      expect(kind, JSON.stringify(input.slice(0, 80))).not.toBe('ok');
      if (expected) expect(kind).toBe(expected);
    };

    // Random strings: mostly link-like characters, some anything-at-all code units.
    for (let i = 0; i < 3000; i++) {
      const length = rng.int(300);
      let text = rng.next() < 0.5 ? '1.' : '';
      for (let k = 0; k < length; k++) {
        text += rng.next() < 0.8 ? ALPHABET[rng.int(64)] : String.fromCharCode(rng.int(0x10000));
      }
      tally(text);
    }
    // Random bytes as base64url, bare and framed with a right length and CRC (so they reach inflate).
    for (let i = 0; i < 3000; i++) {
      const bytes = Buffer.from(Array.from({ length: rng.int(400) }, () => rng.int(256)));
      tally(`1.${bytes.toString('base64url')}`);
    }
    for (let i = 0; i < 1000; i++) {
      const deflated = Buffer.from(Array.from({ length: 1 + rng.int(3000) }, () => rng.int(256)));
      tally(referenceFrame(deflated));
    }
    // Every truncation of a valid link.
    for (let end = 0; end < link.length; end++) tally(link.slice(0, end));
    // Random character flips of a valid link.
    for (let i = 0; i < 4000; i++) {
      const at = rng.int(link.length);
      const code = link.charCodeAt(at) ^ (1 + rng.int(127));
      tally(link.slice(0, at) + String.fromCharCode(code) + link.slice(at + 1));
    }
    // Every position swapped to another link character (each stays a plausible link).
    for (let at = 2; at < link.length; at++) {
      const other = ALPHABET[(ALPHABET.indexOf(link[at]) + 1 + rng.int(63)) % 64];
      tally(link.slice(0, at) + other + link.slice(at + 1));
    }
    expect(decodeShare(link)).toEqual(payload);

    const seconds = (performance.now() - started) / 1000;
    console.log(`fuzz: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')} in ${seconds.toFixed(2)} s`);
    expect(seconds).toBeLessThan(20);
  });

  it('refuses a deflate bomb without inflating it', () => {
    // 100 MB of zeros: ~100 KB deflated, refused by the size cap before decoding.
    const huge = new Uint8Array(100 * 1024 * 1024);
    const started = performance.now();
    expect(kindOf(`1.${deflateRawSync(huge, { level: 9 }).toString('base64url')}`)).toBe('too_large');
    // 40 MB of zeros: ~40 KB deflated, a link under the size cap; inflation stops at the JSON cap.
    const bomb = referenceLink(huge.subarray(0, 40 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const before = process.memoryUsage().arrayBuffers;
    let message = '';
    try {
      decodeShare(bomb);
    } catch (error) {
      expect(error).toBeInstanceOf(ShareError);
      message = (error as ShareError).message;
    }
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(message).toBe(`share link: the data inflates to more than ${MAX_JSON_BYTES} bytes; refused`);
    console.log(`bomb: link ${bomb.length} chars, array buffers grew ${(grown / 1e6).toFixed(1)} MB`);
    expect(grown).toBeLessThan(16 * 1024 * 1024);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('refuses wrong JSON, future versions and stray bits', () => {
    tallyAll([
      [referenceLink('[1, 2, 3]'), 'invalid_payload'],
      [referenceLink('"qmd"'), 'invalid_payload'],
      [referenceLink('null'), 'invalid_payload'],
      [referenceLink(`${'['.repeat(200_000)}${']'.repeat(200_000)}`), 'invalid_payload'],
      [referenceLink('{"v": 1} trailing'), 'corrupted'],
      [referenceLink(JSON.stringify({ v: 4, pairs: [] })), 'future_version'],
      [`7.${encodeShare(samplePayload()).slice(2)}`, 'future_version'],
      [`${'9'.repeat(9)}.AAAA`, 'future_version'],
      ['1.' + 'A'.repeat(70_000), 'too_large'],
      ['x'.repeat(200_000), 'too_large'],
    ]);
    // The last character of a link may carry unused bits; setting one must not pass as the same link.
    const rng = random(5);
    let checked = 0;
    for (let i = 0; checked < 3 && i < 50; i++) {
      const link = encodeShare({ ...samplePayload(), name: 'n'.repeat(rng.int(50)) });
      const unused = [0, 0, 4, 2][(link.length - 2) % 4];
      if (unused === 0) continue;
      const last = ALPHABET.indexOf(link[link.length - 1]);
      expect(kindOf(link.slice(0, -1) + ALPHABET[last ^ 1])).toBe('corrupted');
      checked++;
    }
    expect(checked).toBe(3);
  });
});

function tallyAll(cases: [string, ShareErrorKind][]) {
  for (const [input, kind] of cases) expect(kindOf(input), input.slice(0, 40)).toBe(kind);
}

