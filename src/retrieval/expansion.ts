// A model's expansion read as QMD reads it (tobi/qmd src/llm.ts LlamaCpp.expandQuery and
// src/store.ts expandQuery, v2.8.3): each line `kind: text` with kind lex, vec or hyde is a
// search; a line whose text shares no word with the query (lower-cased, only a-z, 0-9 and
// spaces kept) is dropped; when no line is left, QMD falls back to `hyde: Information about
// <query>`, `lex: <query>`, `vec: <query>`; lines that repeat the query are dropped (so of the
// fallback only the hyde line is left).
import { MAX_EXPANSION_SEARCHES } from './limits.ts';

export type SearchKind = 'lex' | 'vec' | 'hyde';

export interface ExpansionSearch {
  kind: SearchKind;
  text: string;
}

export interface ReadExpansion {
  searches: ExpansionSearch[];
  /** True when no line survived and QMD's fallback stands in. */
  fallback: boolean;
  /** Searches past MAX_EXPANSION_SEARCHES, left out. */
  dropped: number;
}

const KINDS: ReadonlySet<string> = new Set<SearchKind>(['lex', 'vec', 'hyde']);

function sharesQueryWord(query: string): (text: string) => boolean {
  const words = query.toLowerCase().replace(/[^a-z0-9\s]/g, ' ').split(/\s+/).filter(Boolean);
  return (text) => {
    if (words.length === 0) return true;
    const lower = text.toLowerCase();
    return words.some((w) => lower.includes(w));
  };
}

export function readExpansion(query: string, expansion: string): ReadExpansion {
  const relevant = sharesQueryWord(query);
  const searches: ExpansionSearch[] = [];
  for (const line of expansion.trim().split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const kind = line.slice(0, colon).trim();
    const text = line.slice(colon + 1).trim();
    if (KINDS.has(kind) && relevant(text)) searches.push({ kind: kind as SearchKind, text });
  }
  const fallback = searches.length === 0;
  const chosen: ExpansionSearch[] = fallback
    ? [{ kind: 'hyde', text: `Information about ${query}` }, { kind: 'lex', text: query }, { kind: 'vec', text: query }]
    : searches;
  const kept = chosen.filter((s) => s.text !== query);
  return { searches: kept.slice(0, MAX_EXPANSION_SEARCHES), fallback, dropped: Math.max(0, kept.length - MAX_EXPANSION_SEARCHES) };
}
