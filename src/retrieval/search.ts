// One query searched the way one of QMD's commands searches it (tobi/qmd src/store.ts v2.8.3),
// the reranker aside, over any Searcher (SQLite + an embedder in the page and the CLI, fakes in
// tests):
//   bm25    `qmd search` without an expansion: FTS on the query. With one, `qmd query` on an
//           index without vectors: FTS on the query (weight 2) and on each lex line (weight 1),
//           fused by RRF.
//   vector  `qmd vsearch`: vector search on the query and on each vec and hyde line, each note
//           at its best similarity.
//   hybrid  `qmd query` (hybridQuery): FTS on the query and each lex line, vector search on the
//           query and each vec/hyde line, RRF, the first 40 kept.
// In bm25 and hybrid, a strong BM25 signal (top score ≥ 0.85, ≥ 0.15 ahead of the next) skips
// the expansion, as QMD skips its expansion model then.
import { readExpansion, type ExpansionSearch, type ReadExpansion } from './expansion.ts';
import { fuseRanks, mergeByBestScore, type FusedNote, type QueryType, type RankedList } from './fusion.ts';

export const RETRIEVAL_MODES = ['bm25', 'vector', 'hybrid'] as const;
export type RetrievalMode = (typeof RETRIEVAL_MODES)[number];

/** Results per search list, as QMD asks of searchFTS and searchVec in hybridQuery. */
export const LIST_LIMIT = 20;
/** Fused notes kept (QMD's rerank candidate limit). */
export const CANDIDATE_LIMIT = 40;
export const STRONG_SIGNAL_MIN_SCORE = 0.85;
export const STRONG_SIGNAL_MIN_GAP = 0.15;

/** A ranked search result: the note's path and QMD's score for it (higher is better). */
export interface Hit {
  path: string;
  score: number;
}

/** What a search runs on. */
export interface Searcher {
  /** QMD's searchFTS: the best `limit` notes for a typed query. */
  fts(query: string, limit: number): Hit[];
  /** QMD's searchVec for each text (embedded as a query); null when the index has no vectors. */
  vectors: ((texts: readonly string[], limit: number) => Promise<Hit[][]>) | null;
}

export interface SearchRun {
  mode: RetrievalMode;
  /** Every list searched, in QMD's order. */
  lists: RankedList[];
  /** The final ranking, best first. */
  ranking: FusedNote[];
  /** The expansion as read (null when the query had none, or the strong signal skipped it). */
  expansion: ReadExpansion | null;
  strongSignal: boolean;
}

function isStrong(hits: readonly Hit[]): boolean {
  const top = hits[0]?.score ?? 0;
  const second = hits[1]?.score ?? 0;
  return hits.length > 0 && top >= STRONG_SIGNAL_MIN_SCORE && top - second >= STRONG_SIGNAL_MIN_GAP;
}

const list = (source: RankedList['source'], queryType: QueryType, query: string, hits: readonly Hit[]): RankedList => ({
  source,
  queryType,
  query,
  paths: hits.map((h) => h.path),
});

/** What vector search runs on: the query, then each vec and hyde line. */
function vectorTexts(query: string, searches: readonly ExpansionSearch[]): { queryType: QueryType; text: string }[] {
  return [{ queryType: 'original', text: query }, ...searches.filter((s) => s.kind !== 'lex').map((s) => ({ queryType: s.kind, text: s.text }))];
}

async function vectorLists(searcher: Searcher, texts: { queryType: QueryType; text: string }[]): Promise<{ lists: RankedList[]; hits: Hit[][] }> {
  if (!searcher.vectors) throw new Error('vector search needs an embedding model: the index has no vectors');
  const hits = await searcher.vectors(texts.map((t) => t.text), LIST_LIMIT);
  return { lists: texts.map((t, i) => list('vec', t.queryType, t.text, hits[i] ?? [])), hits };
}

/** Searches `query` in `mode`, with a model's expansion text or none (null). */
export async function searchQuery(searcher: Searcher, query: string, expansionText: string | null, mode: RetrievalMode): Promise<SearchRun> {
  if (mode === 'vector') {
    const expansion = expansionText === null ? null : readExpansion(query, expansionText);
    const { lists, hits } = await vectorLists(searcher, vectorTexts(query, expansion?.searches ?? []));
    return { mode, lists, ranking: mergeByBestScore(hits).slice(0, LIST_LIMIT), expansion, strongSignal: false };
  }

  const original = searcher.fts(query, LIST_LIMIT);
  const strongSignal = expansionText !== null && isStrong(original);
  const expansion = expansionText === null || strongSignal ? null : readExpansion(query, expansionText);
  const searches = expansion?.searches ?? [];
  const lists = [list('fts', 'original', query, original)];
  for (const s of searches) if (s.kind === 'lex') lists.push(list('fts', 'lex', s.text, searcher.fts(s.text, LIST_LIMIT)));
  if (mode === 'hybrid') {
    lists.push(...(await vectorLists(searcher, vectorTexts(query, searches))).lists);
  }
  return { mode, lists, ranking: fuseRanks(lists).slice(0, CANDIDATE_LIMIT), expansion, strongSignal };
}
