// Datasets in IndexedDB: list, read, rename, delete, page through and export rows.
// A dataset whose meta says `complete: false` is an import still writing (or one that
// died with its tab): it is never listed and `purgeIncomplete` removes it.
import type { DatasetMeta, DatasetRow, LabDatabase } from './db.ts';
import { qmdUserMessage } from './prompt.ts';
import { emptyReport, type ImportReport } from './report.ts';

/** Rows (or rejections) of dataset `id` with index (or line) in [from, to]. */
export function datasetRange(id: string, from = 0, to = Infinity): IDBKeyRange {
  return IDBKeyRange.bound([id, from], [id, to]);
}

/** Complete datasets, newest first. */
export async function listDatasets(db: LabDatabase): Promise<DatasetMeta[]> {
  const all = await db.getAll('datasets');
  return all.filter((d) => d.complete).sort((a, b) => b.created - a.created);
}

/** A complete dataset, or undefined. */
export async function getDataset(db: LabDatabase, id: string): Promise<DatasetMeta | undefined> {
  const meta = await db.get('datasets', id);
  return meta?.complete ? meta : undefined;
}

export async function renameDataset(db: LabDatabase, id: string, name: string): Promise<DatasetMeta> {
  const trimmed = name.trim();
  if (trimmed === '') throw new Error(`renameDataset: the new name of dataset ${id} is empty`);
  const tx = db.transaction('datasets', 'readwrite');
  const meta = await tx.store.get(id);
  if (!meta?.complete) throw new Error(`renameDataset: no dataset ${id}`);
  const renamed = { ...meta, name: trimmed };
  await tx.store.put(renamed);
  await tx.done;
  return renamed;
}

/** Remove a dataset with its rows and rejections, in one transaction. */
export async function deleteDataset(db: LabDatabase, id: string): Promise<void> {
  const tx = db.transaction(['datasets', 'rows', 'rejections'], 'readwrite');
  await Promise.all([
    tx.objectStore('rows').delete(datasetRange(id)),
    tx.objectStore('rejections').delete(datasetRange(id)),
    tx.objectStore('datasets').delete(id),
    tx.done,
  ]);
}

/** Delete datasets left incomplete by an import that never finished; returns how many. */
export async function purgeIncomplete(db: LabDatabase): Promise<number> {
  const stale = (await db.getAll('datasets')).filter((d) => !d.complete);
  for (const meta of stale) await deleteDataset(db, meta.id);
  return stale.length;
}

/**
 * Rows of a dataset in index order, read a page per transaction (an IndexedDB transaction
 * closes while the consumer awaits something else).
 */
export async function* scanRows(db: LabDatabase, id: string, pageSize = 500): AsyncGenerator<DatasetRow> {
  for (let from = 0; ; from += pageSize) {
    const page = await db.getAll('rows', datasetRange(id, from, from + pageSize - 1));
    yield* page;
    if (page.length < pageSize) return;
  }
}

export interface RowPage {
  rows: DatasetRow[];
  /** Rows matching the search (all rows without one). */
  total: number;
}

/** A page of rows; `search` keeps rows whose query or completion contains it, ignoring case. */
export async function getRows(
  db: LabDatabase,
  id: string,
  { offset = 0, limit = 50, search = '' }: { offset?: number; limit?: number; search?: string } = {},
): Promise<RowPage> {
  const meta = await getDataset(db, id);
  if (!meta) throw new Error(`getRows: no dataset ${id}`);
  const needle = search.trim().toLowerCase();
  if (needle === '') {
    const rows = limit > 0 ? await db.getAll('rows', datasetRange(id, offset, offset + limit - 1)) : [];
    return { rows, total: meta.rows };
  }
  const rows: DatasetRow[] = [];
  let total = 0;
  for await (const row of scanRows(db, id)) {
    if (!row.query.toLowerCase().includes(needle) && !row.completion.toLowerCase().includes(needle)) continue;
    if (total >= offset && rows.length < limit) rows.push(row);
    total++;
  }
  return { rows, total };
}

export type ExportFormat = 'messages' | 'input_output';

/** One JSONL line of a row in `format`: the QMD raw pair or the v4 chat conversation. */
export function rowToJson(row: Pick<DatasetRow, 'query' | 'completion'>, format: ExportFormat): string {
  if (format === 'input_output') return JSON.stringify({ input: row.query, output: row.completion });
  return JSON.stringify({
    messages: [
      { role: 'user', content: qmdUserMessage(row.query) },
      { role: 'assistant', content: row.completion },
    ],
  });
}

/** The dataset as JSONL lines (without newlines), streamed from the store. */
export async function* exportLines(db: LabDatabase, id: string, format: ExportFormat): AsyncGenerator<string> {
  if (!(await getDataset(db, id))) throw new Error(`exportLines: no dataset ${id}`);
  for await (const row of scanRows(db, id)) yield rowToJson(row, format);
}

/** The dataset as a JSONL file. */
export async function exportBlob(db: LabDatabase, id: string, format: ExportFormat): Promise<Blob> {
  const parts: string[] = [];
  for await (const line of exportLines(db, id, format)) parts.push(line + '\n');
  return new Blob(parts, { type: 'application/x-ndjson' });
}

/** The full import report of a stored dataset, rebuilt from its meta and stored rejections. */
export async function loadReport(db: LabDatabase, id: string): Promise<ImportReport> {
  const meta = await getDataset(db, id);
  if (!meta) throw new Error(`loadReport: no dataset ${id}`);
  const stored = await db.getAll('rejections', datasetRange(id));
  const report = emptyReport(meta.source);
  report.rows = meta.rows;
  report.formats = { ...meta.formats };
  report.rejected = stored.length;
  report.lines = meta.rows + stored.length;
  for (const { line, kind, field, reason } of stored) {
    report.rejectedByKind[kind]++;
    report.rejections.push({ line, kind, field, reason });
  }
  return report;
}
