// Datasets in IndexedDB: list, read, rename, delete, page through and export rows, and set
// and read each dataset's validation part. A dataset whose meta says `complete: false` is an
// import still writing (or one that died with its tab): it is never listed and
// `purgeIncomplete` removes it.
import type { DatasetMeta, DatasetRow, LabDatabase, ValidationSplit } from './db.ts';
import { uniqueName } from './names.ts';
import { DEFAULT_PROMPT_FORMAT, qmdUserMessage } from '../model/prompt.ts';
import { emptyReport, type ImportReport } from './report.ts';
import { splitRows, validationProblem } from './split.ts';

/** All rows of a dataset, or the train or validation part of its split. */
export type DatasetPart = 'all' | 'train' | 'validation';

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

/** A name no other stored dataset has: `wanted`, or with a " (2)"… suffix. */
export async function uniqueDatasetName(db: LabDatabase, wanted: string): Promise<string> {
  return uniqueName(wanted, (await db.getAll('datasets')).map((d) => d.name));
}

/** Renames a dataset; a name another dataset has gets a " (2)"… suffix. */
export async function renameDataset(db: LabDatabase, id: string, name: string): Promise<DatasetMeta> {
  const trimmed = name.trim();
  if (trimmed === '') throw new Error(`renameDataset: the new name of dataset ${id} is empty`);
  // One transaction, so two renames at once cannot both take a free name.
  const tx = db.transaction('datasets', 'readwrite');
  const all = await tx.store.getAll();
  const meta = all.find((d) => d.id === id);
  if (!meta?.complete) throw new Error(`renameDataset: no dataset ${id}`);
  const renamed = { ...meta, name: uniqueName(trimmed, all.filter((d) => d.id !== id).map((d) => d.name)) };
  await tx.store.put(renamed);
  await tx.done;
  return renamed;
}

/** Sets which rows are the dataset's validation part (its rows stay as they are). */
export async function setValidation(db: LabDatabase, id: string, validation: ValidationSplit): Promise<DatasetMeta> {
  const problem = validationProblem(validation);
  if (problem) throw new Error(`setValidation: dataset ${id}: ${problem}`);
  const tx = db.transaction('datasets', 'readwrite');
  const meta = await tx.store.get(id);
  if (!meta?.complete) throw new Error(`setValidation: no dataset ${id}`);
  const updated = { ...meta, validation: { ratio: validation.ratio, seed: validation.seed, ...(validation.rule === 'qmd-trainer' ? { rule: validation.rule } : {}) } };
  await tx.store.put(updated);
  await tx.done;
  return updated;
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

/** Rows of one part of a dataset (its own validation split), in row order. */
export async function* partRows(db: LabDatabase, id: string, part: DatasetPart): AsyncGenerator<DatasetRow> {
  const meta = await getDataset(db, id);
  if (!meta) throw new Error(`partRows: no dataset ${id}`);
  const member = new Uint8Array(meta.rows);
  if (part !== 'all') for (const i of splitRows(meta.rows, meta.validation)[part]) member[i] = 1;
  for await (const row of scanRows(db, id)) if (part === 'all' || member[row.index]) yield row;
}

/** The queries of the dataset's validation part, in row order (a query-set source for Eval). */
export async function validationQueries(db: LabDatabase, id: string): Promise<string[]> {
  const queries: string[] = [];
  for await (const row of partRows(db, id, 'validation')) queries.push(row.query);
  return queries;
}

export type ExportFormat = 'messages' | 'input_output';

/** One JSONL line of a row in `format`: the QMD raw pair or the v4 chat conversation (with the row's intent line). */
export function rowToJson(row: Pick<DatasetRow, 'query' | 'completion' | 'intent'>, format: ExportFormat): string {
  if (format === 'input_output') return JSON.stringify({ input: row.query, output: row.completion });
  return JSON.stringify({
    messages: [
      { role: 'user', content: qmdUserMessage(row.query, DEFAULT_PROMPT_FORMAT, row.intent) },
      { role: 'assistant', content: row.completion },
    ],
  });
}

/** The dataset (or one part of it) as JSONL lines (without newlines), streamed from the store. */
export async function* exportLines(db: LabDatabase, id: string, format: ExportFormat, part: DatasetPart = 'all'): AsyncGenerator<string> {
  if (!(await getDataset(db, id))) throw new Error(`exportLines: no dataset ${id}`);
  for await (const row of partRows(db, id, part)) yield rowToJson(row, format);
}

/** The dataset (or one part of it) as a JSONL file. */
export async function exportBlob(db: LabDatabase, id: string, format: ExportFormat, part: DatasetPart = 'all'): Promise<Blob> {
  const lines: string[] = [];
  for await (const line of exportLines(db, id, format, part)) lines.push(line + '\n');
  return new Blob(lines, { type: 'application/x-ndjson' });
}

/** The full import report of a stored dataset, rebuilt from its meta and stored rejections. */
export async function loadReport(db: LabDatabase, id: string): Promise<ImportReport> {
  const meta = await getDataset(db, id);
  if (!meta) throw new Error(`loadReport: no dataset ${id}`);
  const stored = await db.getAll('rejections', datasetRange(id));
  const report = emptyReport(meta.source);
  report.rows = meta.rows;
  report.formats = { ...report.formats, ...meta.formats };
  if (meta.drops) report.drops = { count: meta.drops.count, listed: [...meta.drops.listed] };
  report.rejected = stored.length;
  report.lines = meta.rows + stored.length;
  for (const { line, kind, field, reason } of stored) {
    report.rejectedByKind[kind]++;
    report.rejections.push({ line, kind, field, reason });
  }
  return report;
}
