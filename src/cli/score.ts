// `qmd score [FILE.jsonl|-]`: both scorers over JSONL rows {query, expansion}, one JSON line out per row.
// Other tools parse this output, so its shape is a contract: the input fields plus `eval`, `reward`,
// `entities`; a malformed row becomes {"line": N, "error": "..."} and processing goes on.
import { open } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { once } from 'node:events';
import { parseBoundedJson, JsonNestingError } from '../data/json-depth.ts';
import { decodeLines } from '../data/lines.ts';
import { scoreBoth, ScoringLimitError } from '../scoring/index.ts';

const USAGE = 'usage: qmd score [FILE.jsonl|-]   (no FILE or "-" reads stdin)\n';
const FLUSH_CHARS = 1 << 16;

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (field missing)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** The output line for one input line: scored row, or the error that names what was wrong. */
function scoreLine(text: string): { out: Record<string, unknown>; ok: boolean } {
  let row: unknown;
  try {
    row = parseBoundedJson(text);
  } catch (err) {
    if (err instanceof JsonNestingError) return { out: { error: `JSON too deep: ${err.message}` }, ok: false };
    return { out: { error: `invalid JSON: ${(err as Error).message}` }, ok: false };
  }
  if (typeof row !== 'object' || row === null || Array.isArray(row)) {
    return { out: { error: `expected a JSON object with string fields "query" and "expansion", got ${describe(row)}` }, ok: false };
  }
  const fields = row as Record<string, unknown>;
  for (const field of ['query', 'expansion']) {
    if (typeof fields[field] !== 'string') {
      return { out: { error: `field "${field}": expected a string, got ${describe(fields[field])}` }, ok: false };
    }
  }
  try {
    const scores = scoreBoth(fields.query as string, fields.expansion as string);
    return { out: { ...fields, eval: scores.eval, reward: scores.reward, entities: scores.entities }, ok: true };
  } catch (err) {
    // Beyond the scorers' size limits (src/scoring/limits.ts): this row fails, the run goes on.
    if (err instanceof ScoringLimitError) return { out: { error: err.message }, ok: false };
    throw err;
  }
}

/**
 * Score every row of `input` to `output`; returns how many rows failed. Lines are read as the
 * dataset import reads them (src/data/lines.ts: BOM dropped, \n, \r\n or \r line breaks,
 * invalid UTF-8 reported), so line numbers match what an editor shows for the file.
 */
export async function scoreStream(input: AsyncIterable<Uint8Array>, output: Writable): Promise<number> {
  let failed = 0;
  let pending = '';
  const flush = async () => {
    if (!output.write(pending)) await once(output, 'drain');
    pending = '';
  };
  try {
    for await (const { text, line, error } of decodeLines(input)) {
      if (text.trim() === '') continue;
      const { out, ok } = error === undefined ? scoreLine(text) : { out: { error }, ok: false };
      if (!ok) failed++;
      pending += `${JSON.stringify(ok ? out : { line, ...out })}\n`;
      if (pending.length >= FLUSH_CHARS) await flush();
    }
  } finally {
    // Rows scored before a failure (a read error, a scorer bug) still reach the output.
    if (pending !== '') await flush();
  }
  return failed;
}

export async function main(args: string[]): Promise<number> {
  if (args.length > 1 || args[0] === '--help' || args[0] === '-h') {
    process.stderr.write(USAGE);
    return args.length > 1 ? 2 : 0;
  }
  const path = args[0] ?? '-';
  let input: Readable = process.stdin;
  if (path !== '-') {
    try {
      input = (await open(path)).createReadStream();
    } catch (err) {
      process.stderr.write(`qmd score: cannot read ${path}: ${(err as Error).message}\n${USAGE}`);
      return 1;
    }
  }
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // A reader such as `head` closing the pipe early is a normal way to stop.
    if (err.code === 'EPIPE') process.exit(0);
  });
  const failed = await scoreStream(input as AsyncIterable<Uint8Array>, process.stdout);
  return failed > 0 ? 1 : 0;
}
