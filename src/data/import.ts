// Streaming JSONL import into IndexedDB: lines are parsed as they arrive and written in
// batches, one transaction per batch. The dataset stays `complete: false` (unlisted) until
// the last batch; on abort or failure everything it wrote is deleted, so earlier datasets
// are untouched and no partial dataset is ever listed.
import { DEFAULT_VALIDATION, newId, type DatasetMeta, type DatasetRow, type LabDatabase, type Rejection } from './db.ts';
import { blobChunks } from './lines.ts';
import { readDataset } from './reader.ts';
import type { AcceptedRow } from './rows.ts';
import { deleteDataset, uniqueDatasetName } from './store.ts';
import { emptyReport, type ImportReport } from './report.ts';

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
    name: await uniqueDatasetName(db, opts.name?.trim() || source),
    rows: 0,
    formats: emptyReport(source).formats,
    rejected: 0,
    created: Date.now(),
    source,
    complete: false,
    validation: { ...DEFAULT_VALIDATION },
  };
  await db.put('datasets', meta);
  try {
    const report = await writeRows(db, meta, file, opts);
    const done: DatasetMeta = { ...meta, rows: report.rows, formats: report.formats, rejected: report.rejected, drops: report.drops, complete: true };
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
  let rows: DatasetRow[] = [];
  let rejections: Rejection[] = [];
  /** Accepted rows already in the store; later ones wait in `rows`. */
  let stored = 0;
  let bytes = 0;

  const flush = async () => {
    opts.signal?.throwIfAborted();
    const tx = db.transaction(['rows', 'rejections'], 'readwrite');
    await Promise.all([
      ...rows.map((row) => tx.objectStore('rows').put(row)),
      ...rejections.map((r) => tx.objectStore('rejections').put(r)),
      tx.done,
    ]);
    stored += rows.length;
    rows = [];
    rejections = [];
    opts.onProgress?.({ bytes, total: file.size, rows: report.rows, rejected: report.rejected });
  };
  const earlierRow = (index: number) => (index >= stored ? rows[index - stored] : db.get('rows', [meta.id, index]));

  for await (const entry of readDataset(blobChunks(file, opts.signal), report, earlierRow)) {
    bytes = entry.bytes;
    if (entry.ok) rows.push({ datasetId: meta.id, index: entry.index, line: entry.line, ...pairOf(entry.row) });
    else rejections.push({ datasetId: meta.id, ...entry.rejection });
    if (rows.length + rejections.length >= batchSize) await flush();
  }
  bytes = file.size;
  await flush();
  return report;
}

function pairOf(row: AcceptedRow): Pick<DatasetRow, 'format' | 'query' | 'completion' | 'intent' | 'original'> {
  const { format, query, completion, intent, original } = row;
  return { format, query, completion, ...(intent === undefined ? {} : { intent }), original };
}
