// `qmd data FILE.jsonl`: how the page (and `qmd train`) reads each row of a dataset, one JSON line
// per non-blank input line: {"line", "format", "query", "completion", "intent"?, "left_out"?} for
// an accepted row, {"line", "error"} for a rejected one; then the summary on stderr. Exit status 1
// when any line was rejected, so a script can check a file before training on it.
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { describeRejection, emptyReport, reportSummary, type ImportReport } from '../data/report.ts';
import type { DatasetEntry } from '../data/reader.ts';
import { datasetFileEntries } from './dataset-file.ts';

const USAGE = 'usage: qmd data FILE.jsonl\n';
const FLUSH_CHARS = 1 << 16;

/** The output line of one entry (without its line break). */
export function entryLine(entry: DatasetEntry): string {
  if (!entry.ok) return JSON.stringify({ line: entry.line, error: describeRejection(entry.rejection) });
  const { format, query, completion, intent, drops } = entry.row;
  return JSON.stringify({
    line: entry.line,
    format,
    query,
    completion,
    ...(intent === undefined ? {} : { intent }),
    // Items of a structured row its completion leaves out (an unknown type, an empty text), the first ones named.
    ...(drops.count === 0 ? {} : { left_out: { count: drops.count, items: drops.listed.map((d) => `${d.field}: ${d.reason}`) } }),
  });
}

/** Writes the line of every entry of the file at `path` to `output`; returns the import report. */
export async function describeDataset(path: string, output: Writable): Promise<ImportReport> {
  const report = emptyReport(path);
  let pending = '';
  const flush = async () => {
    if (!output.write(pending)) await once(output, 'drain');
    pending = '';
  };
  try {
    for await (const entry of datasetFileEntries(path, report)) {
      pending += entryLine(entry) + '\n';
      if (pending.length >= FLUSH_CHARS) await flush();
    }
  } finally {
    // Lines read before a failure (a read error midway) still reach the output.
    if (pending !== '') await flush();
  }
  return report;
}

export async function main(args: string[]): Promise<number> {
  if (args.length !== 1 || args[0]!.startsWith('-')) {
    process.stderr.write(USAGE);
    return 2;
  }
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // A reader such as `head` closing the pipe early is a normal way to stop.
    if (err.code === 'EPIPE') process.exit(0);
  });
  const report = await describeDataset(args[0]!, process.stdout);
  process.stderr.write(reportSummary(report) + '\n');
  return report.rejected > 0 ? 1 : 0;
}
