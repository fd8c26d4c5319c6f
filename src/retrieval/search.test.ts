import { describe, expect, it } from 'vitest';
import { searchQuery, type Hit, type Searcher } from './search.ts';

/** A searcher answering from fixed lists, recording what it was asked. */
function fake(fts: Record<string, Hit[]>, vec: Record<string, Hit[]> | null): Searcher & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    fts: (q, limit) => (asked.push(`fts:${q}`), (fts[q] ?? []).slice(0, limit)),
    vectors: vec && (async (texts, limit) => texts.map((t) => (asked.push(`vec:${t}`), (vec[t] ?? []).slice(0, limit)))),
  };
}
const hits = (...paths: string[]) => paths.map((path, i) => ({ path, score: 0.5 - i * 0.01 }));
const expansion = 'lex: cap theorem\nvec: cap consistency or availability\nhyde: The CAP theorem says you pick two.\nlex: unrelated words';

describe('searchQuery', () => {
  it('bm25 without an expansion is the FTS list of the query', async () => {
    const s = fake({ q: hits('a', 'b') }, null);
    const run = await searchQuery(s, 'q', null, 'bm25');
    expect(run.ranking.map((n) => n.path)).toEqual(['a', 'b']);
    expect(run.lists.map((l) => [l.source, l.queryType])).toEqual([['fts', 'original']]);
    expect(s.asked).toEqual(['fts:q']);
  });

  it('bm25 with an expansion fuses the query (×2) and each lex line (×1); vec/hyde lines are not searched', async () => {
    const s = fake({ 'cap q': hits('a', 'b'), 'cap theorem': hits('b', 'c') }, null);
    const run = await searchQuery(s, 'cap q', expansion, 'bm25');
    expect(s.asked).toEqual(['fts:cap q', 'fts:cap theorem']); // "unrelated words" shares no word with the query
    // b: 2/62 + 1/61 + 0.05 beats a: 2/61 + 0.05.
    expect(run.ranking.map((n) => n.path)).toEqual(['b', 'a', 'c']);
  });

  it('hybrid searches FTS for the query and lex lines, then vectors for the query and vec/hyde lines, in QMD’s order', async () => {
    const s = fake({ 'cap q': hits('a'), 'cap theorem': hits('b') }, { 'cap q': hits('c'), 'cap consistency or availability': hits('c'), 'The CAP theorem says you pick two.': hits('b') });
    const run = await searchQuery(s, 'cap q', expansion, 'hybrid');
    expect(run.lists.map((l) => `${l.source}:${l.queryType}`)).toEqual(['fts:original', 'fts:lex', 'vec:original', 'vec:vec', 'vec:hyde']);
    // c: 2/61 + 1/61 + 0.05; b: 1/61 + 1/61 + 0.05; a: 2/61 + 0.05.
    expect(run.ranking.map((n) => n.path)).toEqual(['c', 'a', 'b']);
    expect(run.ranking[0]!.score).toBeCloseTo(3 / 61 + 0.05, 15);
  });

  it('vector merges the query and vec/hyde lists by best similarity', async () => {
    const s = fake({}, { 'cap q': [{ path: 'a', score: 0.4 }, { path: 'b', score: 0.3 }], 'cap consistency or availability': [{ path: 'b', score: 0.9 }] });
    const run = await searchQuery(s, 'cap q', expansion, 'vector');
    expect(run.ranking).toEqual([{ path: 'b', score: 0.9 }, { path: 'a', score: 0.4 }]);
    expect(s.asked.filter((a) => a.startsWith('fts'))).toEqual([]);
  });

  it('skips the expansion on a strong BM25 signal (top ≥ 0.85 and ≥ 0.15 ahead), as QMD skips its model', async () => {
    const strong = fake({ 'cap q': [{ path: 'a', score: 0.9 }, { path: 'b', score: 0.7 }], 'cap theorem': hits('b') }, null);
    const run = await searchQuery(strong, 'cap q', expansion, 'bm25');
    expect(run.strongSignal).toBe(true);
    expect(run.expansion).toBeNull();
    expect(strong.asked).toEqual(['fts:cap q']);
    // Just under either threshold, the expansion is searched.
    for (const top of [[0.84, 0.1], [0.9, 0.76]] as const) {
      const weak = fake({ 'cap q': [{ path: 'a', score: top[0] }, { path: 'b', score: top[1] }] }, null);
      expect((await searchQuery(weak, 'cap q', expansion, 'bm25')).strongSignal).toBe(false);
    }
  });

  it('refuses vector and hybrid modes on an index without vectors', async () => {
    await expect(searchQuery(fake({}, null), 'q', null, 'vector')).rejects.toThrow('vector search needs an embedding model');
    await expect(searchQuery(fake({}, null), 'q', null, 'hybrid')).rejects.toThrow('vector search needs an embedding model');
  });

  it('keeps the first 40 fused notes', async () => {
    const many = (prefix: string) => Array.from({ length: 20 }, (_, i) => ({ path: `${prefix}${i}`, score: 0.5 }));
    const s = fake({ 'cap q': many('f'), 'cap theorem': many('l') }, { 'cap q': many('v') });
    expect((await searchQuery(s, 'cap q', expansion, 'hybrid')).ranking).toHaveLength(40);
  });
});
