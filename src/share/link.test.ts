import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sharedFile } from '../testing/shared.ts';
import { decodeShare, encodeShare, MAX_LINK_CHARS, shareUrl } from './link.ts';
import { payloadOfResult, resultOfPayload, SHARE_LIMITS, SHARE_VERSION, type SharePayload } from './payload.ts';
import { importPythonEval } from './python-eval.ts';
import { makeResult } from './result.ts';
import { referenceLink, referenceRead } from './reference-link.ts';
import { ShareError, type ShareErrorKind } from './share-error.ts';

const BASE = 'https://example.github.io/qmd-lab/index.html';

async function shareFrom(fileName: string): Promise<SharePayload | null> {
  const path = sharedFile(`data/${fileName}`);
  if (!path) return null;
  const { result } = await importPythonEval(readFileSync(path, 'utf8'), fileName);
  return {
    ...payloadOfResult(result),
    model: { base: 'Qwen/Qwen3-0.6B', adapter: 'tobil/qmd-query-expansion-0.6B-v4', note: 'SFT v4, 3 epochs' },
    settings: { temperature: 0.7, topK: 0, topP: 1, maxNewTokens: 200, seed: 1234567, samplesPerQuery: 1 },
  };
}

const small: SharePayload = {
  v: SHARE_VERSION,
  created: Date.UTC(2026, 10, 3, 14, 5),
  model: { base: 'Qwen/Qwen3-0.6B', adapter: null },
  profile: 'reward',
  settings: null,
  pairs: [{ query: 'node.js streams', expansion: 'lex: node.js streams\nvec: how do readable streams work in node.js' }],
};

function failure(input: string): ShareError {
  try {
    decodeShare(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ShareError);
    return error as ShareError;
  }
  throw new Error(`decodeShare accepted ${input.slice(0, 60)}`);
}

function expectFailure(input: string, kind: ShareErrorKind, message: RegExp | string) {
  const error = failure(input);
  expect(error.kind).toBe(kind);
  expect(error.message).toMatch(message);
}

const shared = Object.fromEntries(await Promise.all(['evaluation_v4.json', 'evaluation_v4_grpo.json'].map(async (f) => [f, await shareFrom(f)] as const)));

describe.each(['evaluation_v4.json', 'evaluation_v4_grpo.json'])('share link of %s', (fileName) => {
  const payload = shared[fileName];
  it.skipIf(!payload)('round-trips, fits under 8 KB and is re-scored on open', async () => {
    const url = shareUrl(BASE, payload!);
    console.log(`${fileName}: link data ${encodeShare(payload!).length} chars, URL ${url.length} chars`);
    expect(url.length).toBeLessThan(8 * 1024);
    expect(url.startsWith(`${BASE}#/share/3.`)).toBe(true);
    expect(decodeShare(url)).toEqual(payload);
    expect(decodeShare(encodeShare(payload!))).toEqual(payload);

    const path = sharedFile(`data/${fileName}`)!;
    const file = JSON.parse(readFileSync(path, 'utf8'));
    const opened = await resultOfPayload(decodeShare(url));
    expect(opened.origin).toBe('share');
    expect(opened.items.map((i) => ({ percentage: i.eval.percentage, deductions: i.eval.deductions }))).toEqual(
      file.map((f: { scores: { percentage: number; deductions: string[] } }) => ({ percentage: f.scores.percentage, deductions: f.scores.deductions })),
    );
  });

  it.skipIf(!payload)('follows the documented format (checked with node:zlib)', async () => {
    expect(JSON.parse(referenceRead(encodeShare(payload!)))).toEqual(payload);
    expect(decodeShare(referenceLink(JSON.stringify(payload)))).toEqual(payload);
    expect(decodeShare(referenceLink(JSON.stringify(payload), SHARE_VERSION, 1))).toEqual(payload);
  });
});

describe('share links', () => {
  it('replaces the fragment of the base URL and accepts the bare data or the whole URL', async () => {
    const url = shareUrl('http://localhost:4173/#/results/abc', small);
    expect(url).toBe(`http://localhost:4173/#/share/${encodeShare(small)}`);
    expect(decodeShare(`  ${url}\n`)).toEqual(small);
    expect(decodeShare(encodeShare(small))).toEqual(small);
  });

  it('leaves out the page\'s own ?hub= (a test or dev switch) and keeps other query parameters', () => {
    const hub = encodeURIComponent('http://127.0.0.1:4999/models');
    expect(shareUrl(`http://localhost:4173/?hub=${hub}#/results/abc`, small)).toBe(`http://localhost:4173/#/share/${encodeShare(small)}`);
    expect(shareUrl(`http://localhost:4173/lab/?lang=en&hub=${hub}&x=a%20b#/results/abc`, small)).toBe(
      `http://localhost:4173/lab/?lang=en&x=a+b#/share/${encodeShare(small)}`,
    );
    expect(shareUrl('http://localhost:4173/?x=a%20b#/results/abc', small)).toBe(`http://localhost:4173/?x=a%20b#/share/${encodeShare(small)}`);
  });

  it('keeps the time the result was made, not the time the link is opened', async () => {
    const made = makeResult({ name: 'made last week', model: small.model, profile: 'eval', settings: null, pairs: small.pairs, origin: 'run' });
    const stored = { ...made, created: Date.UTC(2026, 10, 24, 9, 30) };
    const opened = await resultOfPayload(decodeShare(shareUrl(BASE, payloadOfResult(stored))));
    expect(opened.created).toBe(stored.created);
    expect(opened.origin).toBe('share');
  });

  it('still opens version 1 links (made before links carried a time), dated when opened', async () => {
    const { created: _, ...rest } = small;
    const v1 = { ...rest, v: 1 };
    const before = Date.now();
    const opened = decodeShare(referenceLink(JSON.stringify(v1), 1));
    expect(opened).toEqual(v1);
    expect((await resultOfPayload(opened)).created).toBeGreaterThanOrEqual(before);
    expect(decodeShare(encodeShare(v1 as SharePayload))).toEqual(v1);
    expect(encodeShare(v1 as SharePayload).startsWith('1.')).toBe(true);
    expectFailure(referenceLink(JSON.stringify({ ...v1, created: 5 }), 1), 'invalid_payload', 'share link: field created: expected no such field in a version 1 link');
    expectFailure(referenceLink(JSON.stringify(small), 1), 'invalid_payload', /field v: expected 1, the version in front of the link data \(found 3\)/);
    expectFailure(referenceLink(JSON.stringify({ ...small, created: -1 })), 'invalid_payload', /field created: expected an integer in \[0, /);
    expectFailure(referenceLink(JSON.stringify({ ...small, created: '2026-11-03' })), 'invalid_payload', /field created: expected an integer/);
  });

  it('carries no scores: a pair with extra fields is refused', async () => {
    const forged = { ...small, pairs: [{ ...small.pairs[0], scores: { percentage: 100 } }] };
    expectFailure(referenceLink(JSON.stringify(forged)), 'invalid_payload', 'share link: field pairs[0].scores: expected no such field (allowed: query, expansion)');
    expect(() => encodeShare(forged as SharePayload)).toThrow(ShareError);
  });

  it('names the failure: truncated, corrupted, not a qmd-lab link, newer version', async () => {
    const link = encodeShare(small);
    expectFailure(link.slice(0, -7), 'truncated', 'share link: the link is cut off (its data ends early) — copy the whole link');
    expectFailure(link.slice(0, 5), 'truncated', /cut off/);
    const middle = Math.floor(link.length / 2);
    const flipped = link.slice(0, middle) + (link[middle] === 'A' ? 'B' : 'A') + link.slice(middle + 1);
    expectFailure(flipped, 'corrupted', 'share link: the data is damaged (checksum mismatch)');
    expectFailure(`${link}AAAA`, 'corrupted', /bytes after the end/);
    expectFailure(link.replace(/.$/, '!'), 'corrupted', /character/);
    expectFailure('https://example.com/#/settings', 'not_qmd_lab', 'share link: not a qmd-lab link (expected "#/share/3.…")');
    expectFailure('', 'not_qmd_lab', /not a qmd-lab link/);
    expectFailure('0.abc', 'not_qmd_lab', /unknown version 0/);
    expectFailure(`4.${link.slice(2)}`, 'future_version', 'share link: made by a newer qmd-lab, version 4; this page reads version 3');
    expectFailure(referenceLink(JSON.stringify({ ...small, v: 4, pairs: 'new layout' })), 'future_version', /made by a newer qmd-lab, version 4/);
    expectFailure(referenceLink('{"v": 1, "model": '), 'corrupted', 'share link: the data is damaged (not JSON)');
    expectFailure(referenceLink(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), 'corrupted', /not UTF-8/);
  });

  it.each([
    ['a list', [], /field payload: expected an object/],
    ['a missing field', { ...small, settings: undefined }, /field payload.settings: expected a value \(missing\)/],
    ['an unknown profile', { ...small, profile: 'best' }, /field profile: expected "eval" or "reward"/],
    ['no pairs', { ...small, pairs: [] }, /field pairs: expected a list of 1–1000 pairs/],
    ['too many pairs', { ...small, pairs: Array(SHARE_LIMITS.pairs + 1).fill(small.pairs[0]) }, /field pairs: expected a list/],
    ['a long query', { ...small, pairs: [{ query: 'q'.repeat(1001), expansion: '' }] }, /field pairs\[0\].query: expected a string of 1–1000 characters/],
    ['an empty query', { ...small, pairs: [{ query: '', expansion: 'lex: x' }] }, /pairs\[0\].query/],
    ['a numeric expansion', { ...small, pairs: [{ query: 'q', expansion: 5 }] }, /field pairs\[0\].expansion: expected a string/],
    ['a bad setting', { ...small, settings: { temperature: 0.7, topK: 1.5, topP: 1, maxNewTokens: 200, seed: null, samplesPerQuery: 1 } }, /field settings.topK: expected an integer/],
    ['an extra setting', { ...small, settings: { temperature: 0.7, topK: 1, topP: 1, maxNewTokens: 200, seed: null, samplesPerQuery: 1, x: 1 } }, /field settings.x: expected no such field/],
    ['a model without base', { ...small, model: { base: '', adapter: null } }, /field model.base: expected a string of 1–200/],
    ['a prototype key', JSON.parse('{"__proto__": {"v": 1}}'), /field payload.__proto__: expected no such field/],
  ])('refuses a payload with %s', (_, payload, message) => {
    expectFailure(referenceLink(JSON.stringify(payload)), 'invalid_payload', message);
  });

  it('refuses to make a link that would be too long', async () => {
    let seed = 7;
    const noise = () => Array.from({ length: 8000 }, () => String.fromCharCode(33 + ((seed = (seed * 48271) % 2147483647) % 90))).join('');
    const big: SharePayload = { ...small, pairs: Array.from({ length: 20 }, (_, i) => ({ query: `q${i}`, expansion: noise() })) };
    expect(() => encodeShare(big)).toThrow(/a link holds at most 65536 characters/);
    expect(MAX_LINK_CHARS).toBe(65536);
  });
});
