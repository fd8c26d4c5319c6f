// One reading of a JSONL dataset for the page's import and `qmd train`: bytes in, accepted rows
// and rejections out, under one set of rules (BOM, line breaks, UTF-8, nesting, row formats,
// exact duplicates) and with one wording of every rejection.
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
  line: number;
}

/** Where the caller keeps accepted rows (memory, or the store), to confirm a suspected duplicate. */
export type EarlierRows = (index: number) => EarlierRow | undefined | Promise<EarlierRow | undefined>;

/**
 * The entries of a JSONL byte stream in line order, blank lines skipped; `report` is kept up to
 * date as they are read. A row with the same (query, completion) as an earlier accepted one is
 * rejected as a duplicate naming that row's line.
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
    const earlier = parsed.ok ? await duplicates.find(parsed, earlierRows) : undefined;
    if (parsed.ok && earlier === undefined) {
      const index = report.rows;
      duplicates.add(parsed, index);
      countRow(report, parsed.format);
      yield { ok: true, line, bytes, index, row: parsed };
    } else {
      const rejection: ReportRejection = parsed.ok
        ? { line, kind: 'duplicate', field: '', reason: `same query and completion as line ${earlier}` }
        : { line, kind: parsed.kind, field: parsed.field, reason: parsed.reason };
      countRejection(report, rejection);
      yield { ok: false, line, bytes, rejection };
    }
  }
}

/**
 * Exact duplicate detection without keeping the texts: a 53-bit hash of (query, completion)
 * maps to the indexes of accepted rows, and a hash hit is confirmed against the row itself.
 */
class DuplicateIndex {
  private readonly byHash = new Map<number, number[]>();

  add(row: AcceptedRow, index: number): void {
    const key = pairHash(row.query, row.completion);
    const indexes = this.byHash.get(key);
    if (indexes) indexes.push(index);
    else this.byHash.set(key, [index]);
  }

  /** Line of an earlier accepted row with the same pair, or undefined. */
  async find(row: AcceptedRow, earlierRows: EarlierRows): Promise<number | undefined> {
    for (const index of this.byHash.get(pairHash(row.query, row.completion)) ?? []) {
      const earlier = await earlierRows(index);
      if (earlier && earlier.query === row.query && earlier.completion === row.completion) return earlier.line;
    }
    return undefined;
  }
}

/** cyrb53 (public domain, bryc) of `query \0 completion`. */
function pairHash(query: string, completion: string): number {
  const text = `${query}\u0000${completion}`;
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
