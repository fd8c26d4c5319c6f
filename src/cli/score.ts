// `qmd score [FILE.jsonl|-]`: both scorers over JSONL rows {query, expansion}, one JSON line out per row.
// Other tools parse this output, so its shape is a contract: the input fields plus `eval`, `reward`,
// `entities`; a malformed row becomes {"line": N, "error": "..."} and processing goes on.
import { open } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { once } from 'node:events';
import { scoreBoth } from '../scoring/index.ts';

const USAGE = 'usage: qmd score [FILE.jsonl|-]   (no FILE or "-" reads stdin)\n';
const FLUSH_CHARS = 1 << 16;

/** Lines split on "\n" only, so line numbers match what an editor shows for the file. */
async function* lines(input: Readable): AsyncGenerator<string> {
  input.setEncoding('utf8');
  let rest = '';
  for await (const chunk of input as AsyncIterable<string>) {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop()!;
    yield* parts;
  }
  if (rest !== '') yield rest;
}

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
    row = JSON.parse(text);
  } catch (err) {
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
  const scores = scoreBoth(fields.query as string, fields.expansion as string);
  return { out: { ...fields, eval: scores.eval, reward: scores.reward, entities: scores.entities }, ok: true };
}

async function scoreStream(input: Readable, output: Writable): Promise<number> {
  let failed = 0;
  let lineNumber = 0;
  let pending = '';
  const flush = async () => {
    if (!output.write(pending)) await once(output, 'drain');
    pending = '';
  };
  for await (const raw of lines(input)) {
    lineNumber++;
    // A byte-order mark from Windows editors is not part of the first row's JSON.
    const text = lineNumber === 1 && raw.startsWith('\ufeff') ? raw.slice(1) : raw;
    if (/^[ \t\r]*$/.test(text)) continue;
    const { out, ok } = scoreLine(text);
    if (!ok) failed++;
    pending += `${JSON.stringify(ok ? out : { line: lineNumber, ...out })}\n`;
    if (pending.length >= FLUSH_CHARS) await flush();
  }
  if (pending !== '') await flush();
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
  const failed = await scoreStream(input, process.stdout);
  return failed > 0 ? 1 : 0;
}
