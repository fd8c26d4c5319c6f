// The retrieval eval: every query searched in every mode, once per variant (no expansion, or
// the expansions a model wrote), and where its expected note landed — in each list QMD
// searched and in the final ranking. The CLI (`qmd retrieve`) and the page's retrieval mode
// both run this.
import type { RankedList } from './fusion.ts';
import { rankOf, summarizeRanks, type RetrievalSummary } from './metrics.ts';
import type { RetrievalQuery } from './queries.ts';
import { searchQuery, type RetrievalMode, type Searcher } from './search.ts';

export interface RetrievalVariant {
  /** "no expansion", "base", an adapter's name, an expansions file's name. */
  label: string;
  /** Expansion text by query; null searches every query without one. */
  expansions: ReadonlyMap<string, string> | null;
}

export interface ListOutcome {
  source: RankedList['source'];
  queryType: RankedList['queryType'];
  query: string;
  /** Notes the list returned. */
  size: number;
  /** 1-based rank of the expected note in this list, or null. */
  rank: number | null;
}

export interface QueryOutcome {
  /** Index into the run's queries. */
  query: number;
  variant: number;
  mode: RetrievalMode;
  /** 1-based rank of the expected note in the final ranking, or null. */
  rank: number | null;
  /** The paths ranked first (up to 5), to show what was found instead. */
  top: string[];
  lists: ListOutcome[];
  /** The variant has expansions but none for this query. */
  missingExpansion: boolean;
  strongSignal: boolean;
  /** No expansion line survived QMD's reading; its fallback was searched. */
  fallback: boolean;
  /** Expansion lines over the search limit, not searched. */
  dropped: number;
}

export interface VariantSummary {
  label: string;
  byMode: Partial<Record<RetrievalMode, RetrievalSummary>>;
  /** Per difficulty label (queries without one under ""). */
  byDifficulty: Partial<Record<RetrievalMode, Record<string, RetrievalSummary>>>;
}

export interface RetrievalReport {
  queries: readonly RetrievalQuery[];
  modes: readonly RetrievalMode[];
  variants: VariantSummary[];
  /** Query by query, then variant by variant, then mode by mode. */
  outcomes: QueryOutcome[];
}

export interface RetrievalProgress {
  done: number;
  total: number;
}

export interface RetrievalRunOptions {
  signal?: AbortSignal;
  onProgress?: (progress: RetrievalProgress) => void;
}

/**
 * Thrown when a run is aborted: `kept` is the report of the queries searched in full (every
 * variant, every mode) before the abort — the queries before the one in progress.
 */
export class RetrievalCancelled extends Error {
  override name = 'RetrievalCancelled';
  constructor(readonly kept: RetrievalReport, readonly total: number) {
    super(`retrieval eval cancelled after ${kept.queries.length} of ${total} queries`);
  }
}

export async function runRetrievalEval(
  searcher: Searcher,
  queries: readonly RetrievalQuery[],
  variants: readonly RetrievalVariant[],
  modes: readonly RetrievalMode[],
  { signal, onProgress }: RetrievalRunOptions = {},
): Promise<RetrievalReport> {
  const outcomes: QueryOutcome[] = [];
  const total = queries.length * variants.length * modes.length;
  for (const [q, query] of queries.entries()) {
    for (const [v, variant] of variants.entries()) {
      const expansion = variant.expansions?.get(query.query) ?? null;
      for (const mode of modes) {
        if (signal?.aborted) {
          const kept = queries.slice(0, q);
          throw new RetrievalCancelled(summarizeReport(kept, modes, variants.map((v) => v.label), outcomes.filter((o) => o.query < q)), queries.length);
        }
        const run = await searchQuery(searcher, query.query, expansion, mode);
        outcomes.push({
          query: q,
          variant: v,
          mode,
          rank: rankOf(run.ranking.map((n) => n.path), query.expected),
          top: run.ranking.slice(0, 5).map((n) => n.path),
          lists: run.lists.map((l) => ({ source: l.source, queryType: l.queryType, query: l.query, size: l.paths.length, rank: rankOf(l.paths, query.expected) })),
          missingExpansion: variant.expansions !== null && expansion === null,
          strongSignal: run.strongSignal,
          fallback: run.expansion?.fallback ?? false,
          dropped: run.expansion?.dropped ?? 0,
        });
        onProgress?.({ done: outcomes.length, total });
      }
    }
  }
  return summarizeReport(queries, modes, variants.map((v) => v.label), outcomes);
}

/** The report of these outcomes: hit@k and MRR per variant (labelled as `labels`), mode and difficulty. */
export function summarizeReport(
  queries: readonly RetrievalQuery[],
  modes: readonly RetrievalMode[],
  labels: readonly string[],
  outcomes: QueryOutcome[],
): RetrievalReport {
  return { queries, modes, variants: labels.map((label, v) => summarizeVariant(label, v, queries, modes, outcomes)), outcomes };
}

function summarizeVariant(
  label: string,
  v: number,
  queries: readonly RetrievalQuery[],
  modes: readonly RetrievalMode[],
  outcomes: readonly QueryOutcome[],
): VariantSummary {
  const summary: VariantSummary = { label, byMode: {}, byDifficulty: {} };
  for (const mode of modes) {
    const mine = outcomes.filter((o) => o.variant === v && o.mode === mode);
    summary.byMode[mode] = summarizeRanks(mine.map((o) => o.rank));
    const groups = new Map<string, (number | null)[]>();
    for (const o of mine) {
      const key = queries[o.query]!.difficulty ?? '';
      const ranks = groups.get(key) ?? [];
      ranks.push(o.rank);
      groups.set(key, ranks);
    }
    summary.byDifficulty[mode] = Object.fromEntries([...groups].map(([key, ranks]) => [key, summarizeRanks(ranks)]));
  }
  return summary;
}
