// A retrieval eval kept with the eval results: one result per model variant (its expansions as
// the items, scored like an expansion eval, plus the ranks of "no expansion" and its own), or
// one for "no expansion" alone when no model ran. Hit@k and MRR are derived from the stored ranks
// whenever they are shown. A result opened elsewhere (a share link) is searched again only over
// the same notes, recognised by `notesIdentity`.
import { runResults, runResultName, type EvalOutput, type RunContext } from '../app/eval-run.ts';
import type { EvalResult, NotesIdentity, StoredRetrieval } from '../data/db.ts';
import { makeResult, type ExpansionPair } from '../share/result.ts';
import { runRetrievalEval, summarizeReport, type QueryOutcome, type RetrievalReport } from './eval.ts';
import type { RetrievalSummary } from './metrics.ts';
import type { IndexedNote } from './note-index.ts';
import { sha256Hex } from './notes.ts';
import type { RetrievalMode, Searcher } from './search.ts';
import { NO_EXPANSION } from './variants.ts';

/** The count and one hash of the notes' paths and content hashes, whatever order they are listed in. */
export async function notesIdentity(notes: readonly Pick<IndexedNote, 'path' | 'hash'>[]): Promise<NotesIdentity> {
  const sorted = [...notes].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  // One JSON line per note: no path can be mistaken for a path plus a hash.
  return { count: notes.length, hash: await sha256Hex(sorted.map((n) => JSON.stringify([n.path, n.hash])).join('\n')) };
}

/** The ranks of `report` that concern its variant `v` ("no expansion", variant 0, kept beside it). */
export function storedRetrieval(report: RetrievalReport, v: number, notes: NotesIdentity, embedding: string | null, total = report.queries.length): StoredRetrieval {
  const keep = v === 0 ? [0] : [0, v];
  return {
    notes,
    embedding,
    queries: [...report.queries],
    modes: [...report.modes],
    variants: keep.map((i) => report.variants[i]!.label),
    outcomes: report.outcomes.filter((o) => keep.includes(o.variant)).map((o) => ({ ...o, variant: keep.indexOf(o.variant) })),
    fromLink: [],
    ...(total > report.queries.length ? { partial: { total } } : {}),
  };
}

/** The report the page shows for stored ranks: hit@k and MRR recomputed from them. */
export function reportOfStored(stored: StoredRetrieval): RetrievalReport {
  return summarizeReport(stored.queries, stored.modes, stored.variants, stored.outcomes);
}

export interface RetrievalRunContext extends RunContext {
  notes: NotesIdentity;
  embedding: string | null;
  /** Queries the run was asked to search (more than the report holds when it was cancelled). */
  total: number;
}

/** The results a retrieval run saves: one per model variant, or one for "no expansion" when no model ran. */
export function retrievalResults(report: RetrievalReport, outputs: readonly EvalOutput[], context: RetrievalRunContext): EvalResult[] {
  const retrieval = (v: number) => storedRetrieval(report, v, context.notes, context.embedding, context.total);
  if (outputs.length === 0) {
    const result = makeResult({
      name: runResultName('no model', NO_EXPANSION.label, context.set, context.date),
      model: { base: 'no model', adapter: null },
      profile: context.profile,
      settings: null,
      pairs: [],
      origin: 'run',
    });
    return [{ ...result, id: context.ids?.[0] ?? result.id, created: context.date.getTime(), retrieval: retrieval(0) }];
  }
  return outputs.flatMap((output, i) =>
    runResults([output], { ...context, ids: context.ids && [context.ids[i]!] }).map((result) => ({ ...result, retrieval: retrieval(i + 1) })),
  );
}

/** True when `here` (the notes indexed in this page) are the notes `stored` was searched over. */
export const sameNotes = (stored: StoredRetrieval, here: NotesIdentity | null): boolean => here !== null && here.hash === stored.notes.hash && here.count === stored.notes.count;

/**
 * `stored` with its BM25 ranks searched again over `searcher` (which must hold the same notes),
 * the result's own variant expanding with `pairs`. Vector and hybrid need the embedding model
 * and stay as they were.
 */
export async function recomputeBm25(stored: StoredRetrieval, pairs: readonly ExpansionPair[], searcher: Searcher, signal?: AbortSignal): Promise<StoredRetrieval> {
  if (!stored.modes.includes('bm25')) return stored;
  const own = stored.variants.length > 1 ? [{ label: stored.variants[1]!, expansions: new Map(pairs.map((p) => [p.query, p.expansion])) }] : [];
  const fresh = await runRetrievalEval(searcher, stored.queries, [NO_EXPANSION, ...own], ['bm25'], { signal });
  const key = (o: Pick<QueryOutcome, 'query' | 'variant' | 'mode'>) => `${o.query} ${o.variant} ${o.mode}`;
  const searched = new Map(fresh.outcomes.map((o) => [key(o), o]));
  return {
    ...stored,
    outcomes: stored.outcomes.map((o) => searched.get(key(o)) ?? o),
    fromLink: stored.fromLink.filter((m) => m !== 'bm25'),
  };
}

/** Where the shown ranks of each mode come from, in words. */
export function provenance(stored: StoredRetrieval, here: NotesIdentity | null): string[] {
  const lines: string[] = [];
  const searched = stored.modes.filter((m) => !stored.fromLink.includes(m));
  const notes = `${stored.notes.count} note${stored.notes.count === 1 ? '' : 's'}`;
  if (searched.length > 0) lines.push(`${searched.join(', ')}: searched in this page over ${notes}${stored.embedding && searched.some((m) => m !== 'bm25') ? ` (vectors: ${stored.embedding})` : ''}.`);
  if (stored.fromLink.length > 0) {
    const why = !sameNotes(stored, here)
      ? here === null || here.count === 0
        ? 'this page has no notes indexed'
        : `the notes indexed in this page (${here.count}) are not the ones it was searched over (${notes})`
      : `vector search needs the embedding model ${stored.embedding ?? ''}, which opening a link does not load`;
    lines.push(`${stored.fromLink.join(', ')}: shown as stored by the link's sender, not recomputed (${why}); per-list ranks are not carried by links.`);
  } else if (here !== null && !sameNotes(stored, here)) {
    lines.push(`The notes indexed in this page now differ from those ${notes}.`);
  }
  if (stored.partial) lines.push(`Partial: the run was cancelled after searching ${stored.queries.length} of its ${stored.partial.total} queries; the figures cover those.`);
  return lines;
}

export interface ModeComparison {
  mode: RetrievalMode;
  /** Each result's own variant (its expansions; "no expansion" when it has only that). */
  a: RetrievalSummary;
  b: RetrievalSummary;
  /** a − b. */
  hit3Delta: number;
  mrrDelta: number;
}

export interface RetrievalComparison {
  modes: ModeComparison[];
  /** Why the two are not measured on the same ground ('' each when they are). */
  notesDiffer: boolean;
  queriesDiffer: boolean;
}

const ownSummary = (stored: StoredRetrieval, mode: RetrievalMode): RetrievalSummary | undefined => {
  const report = reportOfStored(stored);
  return report.variants[report.variants.length - 1]!.byMode[mode];
};

/** Hit@3 and MRR of two results' own variants, mode by mode (the modes both have). */
export function compareRetrieval(a: StoredRetrieval, b: StoredRetrieval): RetrievalComparison {
  const modes: ModeComparison[] = [];
  for (const mode of a.modes) {
    const sa = ownSummary(a, mode);
    const sb = b.modes.includes(mode) ? ownSummary(b, mode) : undefined;
    if (sa && sb) modes.push({ mode, a: sa, b: sb, hit3Delta: sa.hit3 - sb.hit3, mrrDelta: sa.mrr - sb.mrr });
  }
  const querySet = (s: StoredRetrieval) => JSON.stringify(s.queries.map((q) => [q.query, q.expected]));
  return { modes, notesDiffer: a.notes.hash !== b.notes.hash, queriesDiffer: querySet(a) !== querySet(b) };
}

export interface KeptOnCancel {
  results: EvalResult[];
  /** What the page says: that the run was cancelled, and what was kept. */
  message: string;
}

/**
 * What a cancelled retrieval run keeps: the queries searched in full (`kept`, null when the
 * search had not started or no query was finished) with their ranks; otherwise the expansions
 * generated so far, as expansion results without ranks.
 */
export function keptOnCancel(outputs: readonly EvalOutput[], kept: RetrievalReport | null, context: RetrievalRunContext): KeptOnCancel {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (kept !== null && kept.queries.length > 0) {
    const results = retrievalResults(kept, outputs, context);
    return { results, message: `Cancelled after searching ${kept.queries.length} of ${context.total} queries: their ranks were saved in ${plural(results.length, 'partial result')}.` };
  }
  const results = runResults(outputs, context);
  const generated = outputs.reduce((n, o) => n + o.pairs.length, 0);
  const planned = outputs.reduce((n, o) => n + o.planned, 0);
  if (results.length === 0) return { results, message: 'Cancelled before any expansion or search finished: nothing was saved (the notes index is kept).' };
  return {
    results,
    message: `Cancelled before the notes were searched: the ${generated} of ${planned} expansions generated were saved in ${plural(results.length, 'result')} (expansion scores only, no ranks).`,
  };
}
