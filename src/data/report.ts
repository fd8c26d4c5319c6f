// The import report: what was accepted per format and why lines were rejected, as text
// to read and JSONL to download.
import type { RejectionKind, RowFormat } from './db.ts';

export interface ReportRejection {
  line: number;
  kind: RejectionKind;
  field: string;
  reason: string;
}

/** An output item of an accepted structured row that its completion leaves out, as QMD's trainer does. */
export interface ReportDrop {
  line: number;
  /** JSON path of the item's part at fault, e.g. `output[2][0]`. */
  field: string;
  reason: string;
}

export interface ReportDrops {
  /** Items left out, all rows together. */
  count: number;
  /** In line order; at most REPORT_REJECTIONS of them (and at most ROW_DROPS a row). */
  listed: ReportDrop[];
}

export interface ImportReport {
  source: string;
  /** Non-blank lines read. */
  lines: number;
  /** Accepted rows. */
  rows: number;
  formats: Record<RowFormat, number>;
  rejected: number;
  rejectedByKind: Record<RejectionKind, number>;
  /** In line order; at most REPORT_REJECTIONS of them when `truncated` (all are stored). */
  rejections: ReportRejection[];
  truncated: boolean;
  drops: ReportDrops;
}

/** Rejections an import keeps in memory for its report; the store keeps them all. */
export const REPORT_REJECTIONS = 1000;

export const ROW_FORMATS: RowFormat[] = ['structured', 'input_output', 'messages', 'prompt_completion', 'text'];

export const REJECTION_KINDS: RejectionKind[] = [
  'invalid_utf8',
  'invalid_json',
  'too_deep',
  'missing_field',
  'wrong_type',
  'empty_completion',
  'not_qmd_prompt',
  'duplicate',
];

export function emptyReport(source: string): ImportReport {
  return {
    source,
    lines: 0,
    rows: 0,
    formats: zeroCounts(ROW_FORMATS),
    rejected: 0,
    rejectedByKind: zeroCounts(REJECTION_KINDS),
    rejections: [],
    truncated: false,
    drops: { count: 0, listed: [] },
  };
}

export function zeroCounts<K extends string>(keys: K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

/** Count an accepted row, with the output items it left out (`count` of them, the first ones `listed`). */
export function countRow(report: ImportReport, format: RowFormat, drops: ReportDrops = { count: 0, listed: [] }): void {
  report.rows++;
  report.formats[format]++;
  report.drops.count += drops.count;
  const room = REPORT_REJECTIONS - report.drops.listed.length;
  if (room > 0) report.drops.listed.push(...drops.listed.slice(0, room));
}

/** Count a rejection, listing it while the report has room. */
export function countRejection(report: ImportReport, rejection: ReportRejection): void {
  report.rejected++;
  report.rejectedByKind[rejection.kind]++;
  if (report.rejections.length < REPORT_REJECTIONS) report.rejections.push(rejection);
  else report.truncated = true;
}

/** `kind at field: reason`, as the report and `qmd train` show a rejection. */
export function describeRejection(r: ReportRejection): string {
  return `${r.kind}${r.field ? ` at ${r.field}` : ''}: ${r.reason}`;
}

export function reportSummary(report: ImportReport): string {
  return `${report.source}: ${report.rows} rows accepted, ${report.rejected} lines rejected (of ${report.lines})`;
}

export function reportToText(report: ImportReport): string {
  const out = [
    reportSummary(report),
    `formats: ${ROW_FORMATS.map((f) => `${f} ${report.formats[f]}`).join(', ')}`,
  ];
  if (report.rejected > 0) {
    out.push(`rejected: ${REJECTION_KINDS.filter((k) => report.rejectedByKind[k] > 0).map((k) => `${k} ${report.rejectedByKind[k]}`).join(', ')}`);
  }
  for (const r of report.rejections) out.push(`line ${r.line}: ${describeRejection(r)}`);
  if (report.truncated) out.push(`… ${report.rejected - report.rejections.length} more rejections not listed`);
  if (report.drops.count > 0) out.push(`left out of accepted rows: ${report.drops.count} output items (an unknown type or an empty text, as QMD's trainer leaves them out)`);
  for (const d of report.drops.listed) out.push(`line ${d.line}: left out ${d.field}: ${d.reason}`);
  if (report.drops.count > report.drops.listed.length) out.push(`… ${report.drops.count - report.drops.listed.length} more left-out items not listed`);
  return out.join('\n') + '\n';
}

/** First line the summary (`{"summary": …}`), then one rejection per line. */
export function reportToJsonl(report: ImportReport): string {
  const { rejections, ...summary } = report;
  return [JSON.stringify({ summary }), ...rejections.map((r) => JSON.stringify(r))].join('\n') + '\n';
}
