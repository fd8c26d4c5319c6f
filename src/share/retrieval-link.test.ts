import { describe, expect, it } from 'vitest';
import type { StoredRetrieval } from '../data/db.ts';
import { runRetrievalEval } from '../retrieval/eval.ts';
import type { Hit, Searcher } from '../retrieval/search.ts';
import { reportOfStored, storedRetrieval } from '../retrieval/stored.ts';
import { decodeShare, encodeShare } from './link.ts';
import { payloadOfResult, resultOfPayload, SHARE_VERSION, type SharePayload } from './payload.ts';
import { referenceLink } from './reference-link.ts';
import { makeResult } from './result.ts';
import { ShareError } from './share-error.ts';

const hits = (...paths: string[]): Hit[] => paths.map((path, i) => ({ path, score: 0.5 - i * 0.01 }));
const LISTS: Record<string, Hit[]> = { api: hits('docs/cap.md', 'docs/api-design.md'), 'api design': hits('docs/api-design.md'), cap: hits('docs/cap.md') };
const searcher: Searcher = { fts: (q, limit) => (LISTS[q] ?? []).slice(0, limit), vectors: null };
const QUERIES = [
  { query: 'api', expected: 'api-design', difficulty: 'easy', intent: null, line: 1 },
  { query: 'cap', expected: 'cap', difficulty: null, intent: null, line: 2 },
];
const NOTES = { count: 6, hash: '0123456789abcdef'.repeat(4) };
const pairs = [{ query: 'api', expansion: 'lex: api design' }, { query: 'cap', expansion: 'lex: cap' }];

async function storedResult() {
  const report = await runRetrievalEval(searcher, QUERIES, [{ label: 'no expansion', expansions: null }, { label: 'base', expansions: new Map(pairs.map((p) => [p.query, p.expansion])) }], ['bm25']);
  const retrieval: StoredRetrieval = storedRetrieval(report, 1, NOTES, null);
  const result = makeResult({ name: 'tiny · base · retrieval', model: { base: 'tiny', adapter: null }, profile: 'eval', settings: null, pairs, origin: 'run' });
  return { ...result, retrieval };
}

function failure(payload: unknown, version = SHARE_VERSION): ShareError {
  try {
    decodeShare(referenceLink(JSON.stringify(payload), version));
  } catch (error) {
    expect(error).toBeInstanceOf(ShareError);
    return error as ShareError;
  }
  throw new Error('decodeShare accepted the payload');
}

describe('retrieval in share links (version 3)', () => {
  it('carries the query set and ranks; on open every mode is labelled as from the link and hit@k is derived from the ranks', async () => {
    const result = await storedResult();
    const payload = payloadOfResult(result);
    expect(payload.v).toBe(3);
    expect(payload.retrieval).toEqual({
      notes: NOTES,
      embedding: null,
      modes: ['bm25'],
      variants: ['no expansion', 'base'],
      queries: [{ query: 'api', expected: 'api-design', difficulty: 'easy' }, { query: 'cap', expected: 'cap' }],
      ranks: [2, 1, 1, 1],
    });
    const link = encodeShare(payload);
    expect(link.startsWith('3.')).toBe(true);
    const opened = await resultOfPayload(decodeShare(link));
    const shared = opened.retrieval!;
    expect(shared.fromLink).toEqual(['bm25']);
    expect(shared.outcomes.map((o) => [o.query, o.variant, o.rank, o.lists.length])).toEqual([[0, 0, 2, 0], [0, 1, 1, 0], [1, 0, 1, 0], [1, 1, 1, 0]]);
    expect(reportOfStored(shared).variants.map((v) => v.byMode.bm25)).toEqual(reportOfStored(result.retrieval).variants.map((v) => v.byMode.bm25));
  });

  it('shares a "no expansion" result without pairs, and a cancelled one with its total', async () => {
    const report = await runRetrievalEval(searcher, QUERIES, [{ label: 'no expansion', expansions: null }], ['bm25']);
    const result = { ...makeResult({ name: 'no model', model: { base: 'no model', adapter: null }, profile: 'eval', settings: null, pairs: [], origin: 'run' }), retrieval: storedRetrieval(report, 0, NOTES, null, 5) };
    const opened = await resultOfPayload(decodeShare(encodeShare(payloadOfResult(result))));
    expect(opened.items).toEqual([]);
    expect(opened.retrieval!.partial).toEqual({ total: 5 });
    expect(opened.retrieval!.variants).toEqual(['no expansion']);
  });

  it('still opens version 2 links, and refuses retrieval in them', async () => {
    const { retrieval: _, ...v2 } = { ...payloadOfResult(await storedResult()), v: 2 };
    expect(decodeShare(referenceLink(JSON.stringify(v2), 2))).toEqual(v2);
    expect(failure({ ...payloadOfResult(await storedResult()), v: 2 }, 2).message).toBe('share link: field retrieval: expected no such field in a version 2 link');
    expect(failure({ ...v2, pairs: [] }, 2).message).toMatch(/field pairs: expected a list of 1–1000 pairs/);
  });

  it.each<[string, (p: SharePayload & { retrieval: Record<string, unknown> }) => unknown, RegExp]>([
    ['a wrong number of ranks', (p) => ({ ...p, retrieval: { ...p.retrieval, ranks: [1, 2, 3] } }), /field retrieval.ranks: expected a list of 4–4 ranks/],
    ['a rank past the candidates', (p) => ({ ...p, retrieval: { ...p.retrieval, ranks: [1, 1, 1, 41] } }), /field retrieval.ranks\[3\]: expected an integer in \[1, 40\]/],
    ['a rank 0', (p) => ({ ...p, retrieval: { ...p.retrieval, ranks: [0, 1, 1, 1] } }), /retrieval.ranks\[0\]: expected an integer/],
    ['a fractional rank', (p) => ({ ...p, retrieval: { ...p.retrieval, ranks: [1.5, 1, 1, 1] } }), /retrieval.ranks\[0\]/],
    ['a stored summary (scores are derived, never carried)', (p) => ({ ...p, retrieval: { ...p.retrieval, summary: { hit3: 1 } } }), /field retrieval.summary: expected no such field/],
    ['an unknown mode', (p) => ({ ...p, retrieval: { ...p.retrieval, modes: ['rerank'] } }), /field retrieval.modes\[0\]: expected one of bm25, vector, hybrid, each once/],
    ['a mode twice', (p) => ({ ...p, retrieval: { ...p.retrieval, modes: ['bm25', 'bm25'], ranks: Array(8).fill(1) } }), /retrieval.modes\[1\]: expected one of .*each once/],
    ['a bad notes hash', (p) => ({ ...p, retrieval: { ...p.retrieval, notes: { count: 6, hash: 'XYZ' } } }), /field retrieval.notes.hash: expected a SHA-256/],
    ['three variants', (p) => ({ ...p, retrieval: { ...p.retrieval, variants: ['a', 'b', 'c'] } }), /field retrieval.variants: expected a list of 1–2 variant labels/],
    ['one variant beside pairs', (p) => ({ ...p, retrieval: { ...p.retrieval, variants: ['no expansion'], ranks: [1, 1] } }), /field retrieval.variants: expected two labels/],
    ['no queries', (p) => ({ ...p, retrieval: { ...p.retrieval, queries: [], ranks: [] } }), /field retrieval.queries: expected a list of 1–1000 queries/],
    ['a query without its note', (p) => ({ ...p, retrieval: { ...p.retrieval, queries: [{ query: 'api' }, { query: 'cap', expected: 'cap' }] } }), /field retrieval.queries\[0\].expected: expected a value \(missing\)/],
    ['a total below the queries kept', (p) => ({ ...p, retrieval: { ...p.retrieval, total: 2 } }), /field retrieval.total: expected an integer in \[3, /],
  ])('refuses a link with %s', async (_, forge, message) => {
    const payload = payloadOfResult(await storedResult()) as SharePayload & { retrieval: Record<string, unknown> };
    const error = failure(forge(payload));
    expect(error.kind).toBe('invalid_payload');
    expect(error.message).toMatch(message);
  });
});
