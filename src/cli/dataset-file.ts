// A dataset file for the CLI, read exactly as the page imports one (src/data/reader.ts): the
// same BOM, line-break, UTF-8, nesting, format and duplicate rules, the same rejection wording.
import { createReadStream } from 'node:fs';
import { emptyReport, describeRejection, reportSummary } from '../data/report.ts';
import { readDataset, type EarlierRow } from '../data/reader.ts';

/**
 * The accepted rows of the JSONL file at `path`, streamed from disk. Each rejected line is
 * written to `log` as `PATH:LINE: skipped: …`, then one summary line.
 */
export async function readDatasetFile(path: string, log: (line: string) => void): Promise<EarlierRow[]> {
  const rows: EarlierRow[] = [];
  const report = emptyReport(path);
  try {
    const chunks = createReadStream(path) as AsyncIterable<Uint8Array>;
    for await (const entry of readDataset(chunks, report, (index) => rows[index])) {
      if (entry.ok) rows.push({ query: entry.row.query, completion: entry.row.completion, line: entry.line });
      else log(`${path}:${entry.line}: skipped: ${describeRejection(entry.rejection)}`);
    }
  } catch (err) {
    // fs errors (ENOENT, EISDIR) do not always name the path.
    if ((err as NodeJS.ErrnoException).code) throw new Error(`${path}: cannot read the dataset: ${(err as Error).message}`);
    throw err;
  }
  log(reportSummary(report));
  return rows;
}
