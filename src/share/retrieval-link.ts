// What a share link (version 3) carries of a retrieval eval: the notes' identity, the query set
// (query, expected note, difficulty), the modes and variant labels, and the fused rank of every
// query × variant × mode. Hit@k and MRR are derived from those ranks on open; per-list ranks stay
// behind (they would repeat every expansion line). The link's reader searches again when it has
// the same notes (src/retrieval/stored.ts recomputeBm25), and otherwise shows these as stored.
import type { StoredRetrieval } from '../data/db.ts';
import type { QueryOutcome } from '../retrieval/eval.ts';
import { MAX_EXPECTED_CHARS, MAX_NOTES, MAX_QUERIES } from '../retrieval/limits.ts';
import { CANDIDATE_LIMIT, RETRIEVAL_MODES, type RetrievalMode } from '../retrieval/search.ts';
import type { SharePair } from './payload.ts';
import { invalid, list, number, record, text } from './fields.ts';

export interface ShareRetrievalQuery {
  query: string;
  expected: string;
  difficulty?: string;
}

export interface ShareRetrieval {
  notes: { count: number; hash: string };
  embedding: string | null;
  modes: RetrievalMode[];
  /** "no expansion", then the result's own variant when it has one. */
  variants: string[];
  queries: ShareRetrievalQuery[];
  /** Query by query, then variant, then mode: the rank (1-based) of the expected note, null for a miss. */
  ranks: (number | null)[];
  /** Queries the run was asked to search, when it was cancelled before the last. */
  total?: number;
}

export const SHARE_RETRIEVAL_LIMITS = {
  queries: 1000,
  queryChars: 1000,
  labelChars: 200,
  variants: 2,
} as const;

const integer = (value: unknown, field: string, min: number, max: number): number => number(value, field, min, max, true);

function modes(value: unknown): RetrievalMode[] {
  const items = list(value, 'retrieval.modes', 1, RETRIEVAL_MODES.length, 'modes');
  return items.map((m, i) => {
    if (!RETRIEVAL_MODES.includes(m as RetrievalMode) || items.indexOf(m) !== i) invalid(`retrieval.modes[${i}]`, `one of ${RETRIEVAL_MODES.join(', ')}, each once`);
    return m as RetrievalMode;
  });
}

function query(value: unknown, i: number): ShareRetrievalQuery {
  const at = `retrieval.queries[${i}]`;
  const fields = record(value, at, ['query', 'expected', 'difficulty'], ['query', 'expected']);
  return {
    query: text(fields.query, `${at}.query`, SHARE_RETRIEVAL_LIMITS.queryChars, 1),
    expected: text(fields.expected, `${at}.expected`, MAX_EXPECTED_CHARS, 1),
    ...(fields.difficulty === undefined ? {} : { difficulty: text(fields.difficulty, `${at}.difficulty`, MAX_EXPECTED_CHARS, 1) }),
  };
}

/** A fresh, fully checked retrieval part from untrusted JSON; `pairs` are the link's (already checked). Throws ShareError. */
export function checkRetrieval(value: unknown, pairs: readonly SharePair[]): ShareRetrieval {
  const fields = record(value, 'retrieval', ['notes', 'embedding', 'modes', 'variants', 'queries', 'ranks', 'total'], ['notes', 'embedding', 'modes', 'variants', 'queries', 'ranks']);
  const notesFields = record(fields.notes, 'retrieval.notes', ['count', 'hash'], ['count', 'hash']);
  const hash = notesFields.hash;
  if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) invalid('retrieval.notes.hash', 'a SHA-256 as 64 lower-case hex digits');
  const checkedModes = modes(fields.modes);
  const variants = list(fields.variants, 'retrieval.variants', 1, SHARE_RETRIEVAL_LIMITS.variants, 'variant labels').map((v, i) => text(v, `retrieval.variants[${i}]`, SHARE_RETRIEVAL_LIMITS.labelChars, 1));
  // A result is "no expansion" alone, without pairs, or beside its own variant, whose expansions the pairs are.
  if ((variants.length === 1) !== (pairs.length === 0)) invalid('retrieval.variants', pairs.length === 0 ? 'one label (a result without pairs has only "no expansion")' : 'two labels ("no expansion" and the variant whose expansions the pairs are)');
  const queries = list(fields.queries, 'retrieval.queries', 1, SHARE_RETRIEVAL_LIMITS.queries, 'queries').map(query);
  const expectedRanks = queries.length * variants.length * checkedModes.length;
  const ranks = list(fields.ranks, 'retrieval.ranks', expectedRanks, expectedRanks, 'ranks (queries × variants × modes)').map((r, i) =>
    r === null ? null : integer(r, `retrieval.ranks[${i}]`, 1, CANDIDATE_LIMIT),
  );
  return {
    notes: { count: integer(notesFields.count, 'retrieval.notes.count', 0, MAX_NOTES), hash },
    embedding: fields.embedding === null ? null : text(fields.embedding, 'retrieval.embedding', SHARE_RETRIEVAL_LIMITS.labelChars, 1),
    modes: checkedModes,
    variants,
    queries,
    ranks,
    ...(fields.total === undefined ? {} : { total: integer(fields.total, 'retrieval.total', queries.length + 1, MAX_QUERIES) }),
  };
}

/** The link's part of a stored retrieval eval. */
export function shareOfRetrieval(stored: StoredRetrieval): ShareRetrieval {
  const rank = new Map(stored.outcomes.map((o) => [`${o.query} ${o.variant} ${o.mode}`, o.rank]));
  const ranks: (number | null)[] = [];
  stored.queries.forEach((_, q) => stored.variants.forEach((_, v) => stored.modes.forEach((m) => ranks.push(rank.get(`${q} ${v} ${m}`) ?? null))));
  return {
    notes: { ...stored.notes },
    embedding: stored.embedding,
    modes: [...stored.modes],
    variants: [...stored.variants],
    queries: stored.queries.map((q) => ({ query: q.query, expected: q.expected, ...(q.difficulty === null ? {} : { difficulty: q.difficulty }) })),
    ranks,
    ...(stored.partial ? { total: stored.partial.total } : {}),
  };
}

/** The stored form of a link's retrieval part: every mode marked as coming from the link. */
export function retrievalOfShare(shared: ShareRetrieval, pairs: readonly SharePair[]): StoredRetrieval {
  const expanded = new Set(pairs.map((p) => p.query));
  const outcomes: QueryOutcome[] = [];
  let at = 0;
  shared.queries.forEach((q, query) =>
    shared.variants.forEach((_, variant) =>
      shared.modes.forEach((mode) =>
        outcomes.push({ query, variant, mode, rank: shared.ranks[at++]!, top: [], lists: [], missingExpansion: variant > 0 && !expanded.has(q.query), strongSignal: false, fallback: false, dropped: 0 }),
      ),
    ),
  );
  return {
    notes: { ...shared.notes },
    embedding: shared.embedding,
    queries: shared.queries.map((q, i) => ({ query: q.query, expected: q.expected, difficulty: q.difficulty ?? null, intent: null, line: i + 1 })),
    modes: [...shared.modes],
    variants: [...shared.variants],
    outcomes,
    fromLink: [...shared.modes],
    ...(shared.total === undefined ? {} : { partial: { total: shared.total } }),
  };
}
