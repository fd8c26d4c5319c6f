// A dataset file for the CLI, read exactly as the page imports one (src/data/reader.ts): the
// same BOM, line-break, UTF-8, nesting, format and duplicate rules, the same rejection wording.
import { createReadStream } from 'node:fs';
import { emptyReport, describeRejection, reportSummary, type ImportReport } from '../data/report.ts';
import { readDataset, type DatasetEntry, type EarlierRow } from '../data/reader.ts';

/**
 * The entries of the JSONL file at `path`, streamed from disk, with `report` kept up to date;
 * the accepted rows are kept (as `kept`) to confirm suspected duplicates.
 */
export async function* datasetFileEntries(path: string, report: ImportReport, kept: EarlierRow[] = []): AsyncGenerator<DatasetEntry> {
  try {
    const chunks = createReadStream(path) as AsyncIterable<Uint8Array>;
    for await (const entry of readDataset(chunks, report, (index) => kept[index])) {
      if (entry.ok) {
        const { query, completion, intent } = entry.row;
        kept.push({ query, completion, ...(intent === undefined ? {} : { intent }), line: entry.line });
      }
      yield entry;
    }
  } catch (err) {
    // fs errors (ENOENT, EISDIR) do not always name the path.
    if ((err as NodeJS.ErrnoException).code) throw new Error(`${path}: cannot read the dataset: ${(err as Error).message}`);
    throw err;
  }
}

/**
 * The accepted rows of the JSONL file at `path`. Each rejected line is written to `log` as
 * `PATH:LINE: skipped: …`, then one summary line.
 */
export async function readDatasetFile(path: string, log: (line: string) => void): Promise<EarlierRow[]> {
  const rows: EarlierRow[] = [];
  const report = emptyReport(path);
  for await (const entry of datasetFileEntries(path, report, rows)) {
    if (!entry.ok) log(`${path}:${entry.line}: skipped: ${describeRejection(entry.rejection)}`);
  }
  log(reportSummary(report));
  return rows;
}
