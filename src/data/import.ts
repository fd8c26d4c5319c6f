// Streaming JSONL import into IndexedDB: lines are parsed as they arrive and written in
// batches, one transaction per batch. The dataset stays `complete: false` (unlisted) until
// the last batch; on abort or failure everything it wrote is deleted, so earlier datasets
// are untouched and no partial dataset is ever listed.
import { newId, type DatasetMeta, type DatasetRow, type LabDatabase, type Rejection } from './db.ts';
import { blobChunks, decodeLines } from './lines.ts';
import { parseRow, type AcceptedRow } from './rows.ts';
import { deleteDataset } from './store.ts';
import { emptyReport, REPORT_REJECTIONS, type ImportReport } from './report.ts';

export interface ImportProgress {
  bytes: number;
  total: number;
  rows: number;
  rejected: number;
}

export interface ImportOptions {
  /** Dataset name; the file name by default. */
  name?: string;
  signal?: AbortSignal;
  onProgress?(progress: ImportProgress): void;
  /** Rows and rejections written per transaction. */
  batchSize?: number;
}

export interface ImportResult {
  meta: DatasetMeta;
  report: ImportReport;
}

export async function importDataset(db: LabDatabase, file: Blob, opts: ImportOptions = {}): Promise<ImportResult> {
  const source = file instanceof File ? file.name : 'upload.jsonl';
  const meta: DatasetMeta = {
    id: newId(),
    name: opts.name?.trim() || source,
    rows: 0,
    formats: emptyReport(source).formats,
    rejected: 0,
    created: Date.now(),
    source,
    complete: false,
  };
  await db.put('datasets', meta);
  try {
    const report = await writeRows(db, meta, file, opts);
    const done: DatasetMeta = { ...meta, rows: report.rows, formats: report.formats, rejected: report.rejected, complete: true };
    await db.put('datasets', done);
    return { meta: done, report };
  } catch (err) {
    await deleteDataset(db, meta.id);
    throw err;
  }
}

async function writeRows(db: LabDatabase, meta: DatasetMeta, file: Blob, opts: ImportOptions): Promise<ImportReport> {
  const batchSize = opts.batchSize ?? 1000;
  const report = emptyReport(meta.source);
  const duplicates = new DuplicateIndex(db, meta.id);
  let rows: DatasetRow[] = [];
  let rejections: Rejection[] = [];
  let bytes = 0;

  const flush = async () => {
    opts.signal?.throwIfAborted();
    const tx = db.transaction(['rows', 'rejections'], 'readwrite');
    await Promise.all([
      ...rows.map((row) => tx.objectStore('rows').put(row)),
      ...rejections.map((r) => tx.objectStore('rejections').put(r)),
      tx.done,
    ]);
    duplicates.written(rows.length);
    rows = [];
    rejections = [];
    opts.onProgress?.({ bytes, total: file.size, rows: report.rows, rejected: report.rejected });
  };

  for await (const line of decodeLines(blobChunks(file, opts.signal))) {
    bytes = line.bytes;
    if (line.text.trim() === '') continue;
    report.lines++;
    const parsed = parseRow(line.text);
    const earlier = parsed.ok ? await duplicates.find(parsed, rows) : undefined;
    if (parsed.ok && earlier === undefined) {
      const row: DatasetRow = { datasetId: meta.id, index: report.rows, line: line.line, ...pairOf(parsed) };
      duplicates.add(row);
      rows.push(row);
      report.rows++;
      report.formats[parsed.format]++;
    } else {
      const rejection: Rejection = parsed.ok
        ? { datasetId: meta.id, line: line.line, kind: 'duplicate', field: '', reason: `same query and completion as line ${earlier}` }
        : { datasetId: meta.id, line: line.line, kind: parsed.kind, field: parsed.field, reason: parsed.reason };
      rejections.push(rejection);
      report.rejected++;
      report.rejectedByKind[rejection.kind]++;
      if (report.rejections.length < REPORT_REJECTIONS) {
        report.rejections.push({ line: rejection.line, kind: rejection.kind, field: rejection.field, reason: rejection.reason });
      } else {
        report.truncated = true;
      }
    }
    if (rows.length + rejections.length >= batchSize) await flush();
  }
  bytes = file.size;
  await flush();
  return report;
}

function pairOf(row: AcceptedRow): Pick<DatasetRow, 'format' | 'query' | 'completion' | 'original'> {
  return { format: row.format, query: row.query, completion: row.completion, original: row.original };
}

/**
 * Exact duplicate detection without keeping the texts in memory: a 53-bit hash of
 * (query, completion) maps to the indexes of accepted rows, and a hash hit is confirmed
 * against the row itself (from the pending batch or the store).
 */
class DuplicateIndex {
  private readonly byHash = new Map<number, number[]>();
  /** Index of the first row not yet in the store. */
  private stored = 0;

  constructor(
    private readonly db: LabDatabase,
    private readonly datasetId: string,
  ) {}

  add(row: DatasetRow): void {
    const key = pairHash(row.query, row.completion);
    const indexes = this.byHash.get(key);
    if (indexes) indexes.push(row.index);
    else this.byHash.set(key, [row.index]);
  }

  written(count: number): void {
    this.stored += count;
  }

  /** Line of an earlier accepted row with the same pair, or undefined. */
  async find(row: AcceptedRow, pending: DatasetRow[]): Promise<number | undefined> {
    for (const index of this.byHash.get(pairHash(row.query, row.completion)) ?? []) {
      const earlier = index >= this.stored ? pending[index - this.stored] : await this.db.get('rows', [this.datasetId, index]);
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
