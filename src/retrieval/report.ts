// A retrieval report as text (what `qmd retrieve` prints) and the short labels the page shares.
import { formatPercent } from '../app/format.ts';
import type { ListOutcome, QueryOutcome, RetrievalReport } from './eval.ts';
import type { RetrievalSummary } from './metrics.ts';

/** "fts:lex" etc.: which search a list came from. */
export const listLabel = (list: Pick<ListOutcome, 'source' | 'queryType'>): string => `${list.source}:${list.queryType}`;

/** "@3" for a rank, "–" for a miss. */
export const rankLabel = (rank: number | null): string => (rank === null ? '–' : `@${rank}`);

export const summaryCells = (s: RetrievalSummary): string[] => [
  formatPercent(100 * s.hit1),
  formatPercent(100 * s.hit3),
  formatPercent(100 * s.hit5),
  s.mrr.toFixed(3),
];

/** Flags a query outcome carries besides its ranks, as words. */
export function outcomeNotes(o: QueryOutcome): string[] {
  const notes: string[] = [];
  if (o.missingExpansion) notes.push('no expansion for this query');
  if (o.strongSignal) notes.push('strong BM25 signal: expansion skipped');
  if (o.fallback) notes.push('no usable line: QMD’s fallback searched');
  if (o.dropped > 0) notes.push(`${o.dropped} lines over the limit not searched`);
  return notes;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd());
}

/** Per-query lines (each list's rank, the fused rank), then the summary table. */
export function formatReport(report: RetrievalReport): string {
  const lines: string[] = [];
  for (const [v, variant] of report.variants.entries()) {
    for (const mode of report.modes) {
      lines.push(`${variant.label} · ${mode}`);
      for (const o of report.outcomes.filter((x) => x.variant === v && x.mode === mode)) {
        const q = report.queries[o.query]!;
        const lists = o.lists.map((l) => `${listLabel(l)} ${rankLabel(l.rank)}/${l.size}`).join(' · ');
        const notes = outcomeNotes(o);
        lines.push(`  ${rankLabel(o.rank).padEnd(4)} ${JSON.stringify(q.query)} → ${q.expected}  [${lists}]${notes.length ? `  (${notes.join('; ')})` : ''}`);
      }
    }
  }
  lines.push('', 'summary');
  const rows = [['variant', 'mode', 'queries', 'hit@1', 'hit@3', 'hit@5', 'MRR']];
  for (const variant of report.variants) {
    for (const mode of report.modes) {
      const s = variant.byMode[mode]!;
      rows.push([variant.label, mode, String(s.queries), ...summaryCells(s)]);
      for (const [difficulty, d] of Object.entries(variant.byDifficulty[mode] ?? {})) {
        if (difficulty !== '') rows.push(['', `  ${difficulty}`, String(d.queries), ...summaryCells(d)]);
      }
    }
  }
  lines.push(...table(rows));
  return lines.join('\n') + '\n';
}
