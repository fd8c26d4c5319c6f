// One reading of a JSONL dataset for the page's import, `qmd train` and `qmd data`: bytes in,
// accepted rows and rejections out, under one set of rules (BOM, line breaks, UTF-8, nesting, row
// formats, duplicates) and with one wording of every rejection.
import { decodeLines } from './lines.ts';
import { countRejection, countRow, type ImportReport, type ReportRejection } from './report.ts';
import { parseRow, type AcceptedRow, type ParsedRow } from './rows.ts';

export type DatasetEntry =
  | { ok: true; line: number; bytes: number; /** 0-based among accepted rows. */ index: number; row: AcceptedRow }
  | { ok: false; line: number; bytes: number; rejection: ReportRejection };

/** An accepted row kept by the caller, by its index. */
export interface EarlierRow {
  query: string;
  completion: string;
  intent?: string;
  line: number;
}

/** Where the caller keeps accepted rows (memory, or the store), to confirm a suspected duplicate. */
export type EarlierRows = (index: number) => EarlierRow | undefined | Promise<EarlierRow | undefined>;

/**
 * The entries of a JSONL byte stream in line order, blank lines skipped; `report` is kept up to
 * date as they are read. A row with the same (query, completion) as an earlier accepted one is
 * rejected as a duplicate naming that row's line; so is a structured row whose query, ignoring
 * case, an earlier structured row has (QMD's prepare_data.py keeps the first row of each
 * `query.lower().strip()`; other formats were never de-duplicated by query, so they are not here).
 */
export async function* readDataset(
  chunks: AsyncIterable<Uint8Array>,
  report: ImportReport,
  earlierRows: EarlierRows,
): AsyncGenerator<DatasetEntry> {
  const duplicates = new DuplicateIndex();
  // Invalid UTF-8 decodes to U+FFFD, never to blanks, so such a line is always reported.
  for await (const { text, line, bytes, error } of decodeLines(chunks)) {
    if (text.trim() === '') continue;
    report.lines++;
    const parsed: ParsedRow = error === undefined ? parseRow(text) : { ok: false, kind: 'invalid_utf8', field: '', reason: error };
    const duplicate = parsed.ok ? await duplicates.find(parsed, earlierRows) : undefined;
    if (parsed.ok && duplicate === undefined) {
      const index = report.rows;
      duplicates.add(parsed, index);
      countRow(report, parsed.format, { count: parsed.drops.count, listed: parsed.drops.listed.map((d) => ({ line, ...d })) });
      yield { ok: true, line, bytes, index, row: parsed };
    } else {
      const rejection: ReportRejection = parsed.ok
        ? { line, kind: 'duplicate', ...duplicate! }
        : { line, kind: parsed.kind, field: parsed.field, reason: parsed.reason };
      countRejection(report, rejection);
      yield { ok: false, line, bytes, rejection };
    }
  }
}

/** What a duplicate's rejection says: the field it repeats and the line it repeats. */
type Duplicate = { field: string; reason: string };

/**
 * Duplicate detection without keeping the texts: 53-bit hashes of (query, completion), and of the
 * lower-cased query of structured rows, map to the indexes of accepted rows; a hash hit is
 * confirmed against the row itself.
 */
class DuplicateIndex {
  private readonly byPair = new Map<number, number[]>();
  private readonly byStructuredQuery = new Map<number, number[]>();

  add(row: AcceptedRow, index: number): void {
    push(this.byPair, textHash(`${row.query}\u0000${row.completion}`), index);
    if (row.format === 'structured') push(this.byStructuredQuery, textHash(queryKey(row.query)), index);
  }

  /** What makes `row` a duplicate of an earlier accepted row, or undefined. */
  async find(row: AcceptedRow, earlierRows: EarlierRows): Promise<Duplicate | undefined> {
    if (row.format === 'structured') {
      const key = queryKey(row.query);
      for (const index of this.byStructuredQuery.get(textHash(key)) ?? []) {
        const earlier = await earlierRows(index);
        if (earlier && queryKey(earlier.query) === key) return { field: 'query', reason: `the same query (ignoring case) as line ${earlier.line}` };
      }
    }
    for (const index of this.byPair.get(textHash(`${row.query}\u0000${row.completion}`)) ?? []) {
      const earlier = await earlierRows(index);
      if (earlier && earlier.query === row.query && earlier.completion === row.completion) return { field: '', reason: `same query and completion as line ${earlier.line}` };
    }
    return undefined;
  }
}

function push(map: Map<number, number[]>, key: number, index: number): void {
  const indexes = map.get(key);
  if (indexes) indexes.push(index);
  else map.set(key, [index]);
}

/** QMD's de-duplication key: `query.lower().strip()`. */
function queryKey(query: string): string {
  return query.toLowerCase().trim();
}

/** cyrb53 (public domain, bryc). */
function textHash(text: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
