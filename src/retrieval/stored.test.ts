import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import type { EvalOutput } from '../app/eval-run.ts';
import { DB_VERSION, openLab } from '../data/db.ts';
import { getResult, listResults, saveResult } from '../share/store.ts';
import type { SamplingRequest } from '../engine/protocol.ts';
import { RetrievalCancelled, runRetrievalEval, type RetrievalVariant } from './eval.ts';
import type { RetrievalQuery } from './queries.ts';
import type { Hit, Searcher } from './search.ts';
import {
  compareRetrieval,
  keptOnCancel,
  notesIdentity,
  provenance,
  recomputeBm25,
  reportOfStored,
  retrievalResults,
  sameNotes,
  storedRetrieval,
  type RetrievalRunContext,
} from './stored.ts';

const hits = (...paths: string[]): Hit[] => paths.map((path, i) => ({ path, score: 0.5 - i * 0.01 }));
/** FTS answers by query text; "api" finds the api note second, its lex line "api design" first. */
const LISTS: Record<string, Hit[]> = {
  api: hits('docs/cap.md', 'docs/api-design.md'),
  'api design': hits('docs/api-design.md'),
  cap: hits('docs/cap.md'),
};
const searcher = (lists = LISTS): Searcher => ({ fts: (q, limit) => (lists[q] ?? []).slice(0, limit), vectors: null });
const query = (q: string, expected: string, line: number): RetrievalQuery => ({ query: q, expected, difficulty: line === 1 ? 'easy' : null, intent: null, line });
const QUERIES = [query('api', 'api-design', 1), query('cap', 'cap', 2), query('nothing', 'cap', 3)];
const EXPANDED: RetrievalVariant = { label: 'base', expansions: new Map([['api', 'lex: api design'], ['cap', 'lex: cap']]) };
const NOTES = { count: 2, hash: 'a'.repeat(64) };
const sampling: SamplingRequest = { greedy: true, temperature: 0.7, topK: 0, topP: 1, seed: 1, maxNewTokens: 8 };
const context: RetrievalRunContext = {
  model: 'tiny',
  set: 'retrieval · q.jsonl',
  profile: 'eval',
  sampling,
  samplesPerQuery: 1,
  date: new Date(2026, 11, 1, 10, 30),
  ids: ['r1'],
  notes: NOTES,
  embedding: null,
  total: 3,
};
const output = (pairs: [string, string][], planned = 2): EvalOutput => ({
  variant: { adapter: null, label: 'base' },
  pairs: pairs.map(([q, expansion]) => ({ query: q, expansion })),
  planned,
});
const fullOutput = output([['api', 'lex: api design'], ['cap', 'lex: cap']], 3);

describe('notesIdentity', () => {
  it('is the same for the same notes in any order and changes with any path or hash', async () => {
    const a = await notesIdentity([{ path: 'd/a.md', hash: '1' }, { path: 'd/b.md', hash: '2' }]);
    expect(a.count).toBe(2);
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await notesIdentity([{ path: 'd/b.md', hash: '2' }, { path: 'd/a.md', hash: '1' }])).toEqual(a);
    expect((await notesIdentity([{ path: 'd/a.md', hash: '1' }, { path: 'd/b.md', hash: '3' }])).hash).not.toBe(a.hash);
    // A path that swallows its hash must not pass for another note list.
    expect((await notesIdentity([{ path: 'd/a.md","1', hash: '' }])).hash).not.toBe((await notesIdentity([{ path: 'd/a.md', hash: '1' }])).hash);
  });
});

describe('retrieval results', () => {
  it('saves one result per model variant, with the ranks of "no expansion" and its own, summaries derived from the ranks', async () => {
    const report = await runRetrievalEval(searcher(), QUERIES, [{ label: 'no expansion', expansions: null }, EXPANDED], ['bm25']);
    const [result, ...rest] = retrievalResults(report, [fullOutput], context);
    expect(rest).toEqual([]);
    expect(result!.id).toBe('r1');
    expect(result!.name).toBe('tiny · base · retrieval · q.jsonl · 2026-12-01 10:30');
    expect(result!.items.map((i) => i.query)).toEqual(['api', 'cap']);
    const stored = result!.retrieval!;
    expect(stored.variants).toEqual(['no expansion', 'base']);
    expect(stored.notes).toEqual(NOTES);
    expect(stored.partial).toBeUndefined();
    expect(stored.outcomes.map((o) => [o.query, o.variant, o.rank])).toEqual([[0, 0, 2], [0, 1, 1], [1, 0, 1], [1, 1, 1], [2, 0, null], [2, 1, null]]);
    const shown = reportOfStored(stored);
    expect(shown.variants.map((v) => [v.label, v.byMode.bm25!.hit1, v.byMode.bm25!.mrr])).toEqual([
      ['no expansion', 1 / 3, 0.5],
      ['base', 2 / 3, 2 / 3],
    ]);
    expect(shown.variants[0]!.byDifficulty.bm25!.easy!.hit1).toBe(0);
  });

  it('keeps the ranks in IndexedDB as they were saved, with no schema change', async () => {
    const report = await runRetrievalEval(searcher(), QUERIES, [{ label: 'no expansion', expansions: null }, EXPANDED], ['bm25']);
    const [result] = retrievalResults(report, [fullOutput], context);
    const db = await openLab(`stored-test-${Math.random()}`);
    expect(db.version).toBe(DB_VERSION);
    await saveResult(db, result!);
    expect(await getResult(db, 'r1')).toEqual(result);
    expect((await listResults(db)).map((r) => r.retrieval?.variants)).toEqual([['no expansion', 'base']]);
    db.close();
  });

  it('without a model saves one "no expansion" result without items', async () => {
    const report = await runRetrievalEval(searcher(), QUERIES, [{ label: 'no expansion', expansions: null }], ['bm25']);
    const [result] = retrievalResults(report, [], context);
    expect(result!.items).toEqual([]);
    expect(result!.model).toEqual({ base: 'no model', adapter: null });
    expect(result!.retrieval!.variants).toEqual(['no expansion']);
    expect(result!.retrieval!.outcomes).toHaveLength(3);
  });
});

describe('a cancelled retrieval run', () => {
  it('keeps the queries searched in full when cancelled while searching, marked partial', async () => {
    const controller = new AbortController();
    let searched = 0;
    const slow: Searcher = { fts: (q, limit) => (++searched === 4 && controller.abort(), (LISTS[q] ?? []).slice(0, limit)), vectors: null };
    const error = await runRetrievalEval(slow, QUERIES, [{ label: 'no expansion', expansions: null }, EXPANDED], ['bm25'], { signal: controller.signal }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetrievalCancelled);
    const kept = (error as RetrievalCancelled).kept;
    // Aborted while query 2 is half searched ("no expansion" done, "base" not): only query 1 is kept.
    expect(kept.queries.map((q) => q.query)).toEqual(['api']);
    expect(kept.outcomes.map((o) => [o.query, o.variant])).toEqual([[0, 0], [0, 1]]);
    const { results, message } = keptOnCancel([fullOutput], kept, context);
    expect(message).toBe('Cancelled after searching 1 of 3 queries: their ranks were saved in 1 partial result.');
    expect(results[0]!.retrieval!.partial).toEqual({ total: 3 });
    expect(provenance(results[0]!.retrieval!, NOTES)).toContain('Partial: the run was cancelled after searching 1 of its 3 queries; the figures cover those.');
  });

  it('keeps the expansions so far when cancelled before the search, and says when nothing was kept', () => {
    const partial = keptOnCancel([output([['api', 'lex: api design']], 3)], null, context);
    expect(partial.message).toBe('Cancelled before the notes were searched: the 1 of 3 expansions generated were saved in 1 result (expansion scores only, no ranks).');
    expect(partial.results[0]!.partial).toEqual({ done: 1, total: 3 });
    expect(partial.results[0]!.retrieval).toBeUndefined();
    const none = keptOnCancel([output([], 3)], null, context);
    expect(none.results).toEqual([]);
    expect(none.message).toMatch(/^Cancelled before any expansion or search finished: nothing was saved/);
  });
});

describe('recomputing and labelling stored ranks', () => {
  async function stored() {
    const report = await runRetrievalEval(searcher(), QUERIES, [{ label: 'no expansion', expansions: null }, EXPANDED], ['bm25']);
    return storedRetrieval(report, 1, NOTES, null);
  }

  it('searches BM25 again over the same notes, with the pairs as the own variant’s expansions', async () => {
    const linked = { ...(await stored()), fromLink: ['bm25' as const] };
    // Forged ranks: everything at 1, no lists.
    linked.outcomes = linked.outcomes.map((o) => ({ ...o, rank: 1, lists: [] }));
    const pairs = [{ query: 'api', expansion: 'lex: api design' }];
    const again = await recomputeBm25(linked, pairs, searcher());
    expect(again.fromLink).toEqual([]);
    expect(again.outcomes.map((o) => o.rank)).toEqual([2, 1, 1, 1, null, null]);
    expect(again.outcomes[0]!.lists).toHaveLength(1);
    // "cap" has no pair now: the own variant searched it without an expansion, and says so.
    expect(again.outcomes[3]!.missingExpansion).toBe(true);
  });

  it('says where each mode’s ranks come from', async () => {
    const here = await stored();
    expect(provenance(here, NOTES)).toEqual(['bm25: searched in this page over 2 notes.']);
    expect(provenance(here, { count: 3, hash: 'b'.repeat(64) })).toEqual(['bm25: searched in this page over 2 notes.', 'The notes indexed in this page now differ from those 2 notes.']);
    const linked = { ...here, fromLink: ['bm25' as const] };
    expect(provenance(linked, null)[0]).toBe("bm25: shown as stored by the link's sender, not recomputed (this page has no notes indexed); per-list ranks are not carried by links.");
    expect(provenance(linked, { count: 5, hash: 'b'.repeat(64) })[0]).toMatch(/the notes indexed in this page \(5\) are not the ones it was searched over \(2 notes\)/);
    expect(sameNotes(linked, NOTES)).toBe(true);
    expect(sameNotes(linked, { ...NOTES, count: 3 })).toBe(false);
  });

  it('compares two results’ own variants mode by mode and flags different ground', async () => {
    const a = await stored();
    const report = await runRetrievalEval(searcher(), QUERIES, [{ label: 'no expansion', expansions: null }], ['bm25']);
    const b = storedRetrieval(report, 0, { count: 2, hash: 'c'.repeat(64) }, null);
    const c = compareRetrieval(a, b);
    expect(c.modes.map((m) => [m.mode, m.a.hit1, m.b.hit1, m.hit3Delta, m.mrrDelta])).toEqual([['bm25', 2 / 3, 1 / 3, 0, 2 / 3 - 0.5]]);
    expect([c.notesDiffer, c.queriesDiffer]).toEqual([true, false]);
    expect(compareRetrieval(a, { ...b, queries: b.queries.map((q, i) => (i === 0 ? { ...q, expected: 'cap' } : q)) }).queriesDiffer).toBe(true);
  });
});
