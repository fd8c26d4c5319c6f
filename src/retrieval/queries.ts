// Query and expansion files of the retrieval eval (JSON Lines, UTF-8, one object a line; blank
// lines are skipped, other fields are ignored).
//
// Queries — QMD's own fixture format (test/eval-deep-research.jsonl):
//   {"query": "API versioning", "expected_doc": "api-design", "difficulty": "easy"}
//   query         the search text (required, ≤ 2,000 characters)
//   expected_doc  the note it should find (required): a note matches when its path, lower-cased,
//                 contains this, lower-cased — "api-design" finds docs/api-design-principles.md
//   difficulty    optional label; results are also summarised per difficulty
//   intent, notes optional, shown with the query, not used by the search (nor by QMD's eval)
//
// Expansions — what a model wrote for a query, one variant per file:
//   {"query": "API versioning", "expansion": "lex: api version header\nvec: how to version a REST api"}
//   or QMD's structured training rows: {"query": "...", "output": [["lex", "api version header"], ...]}
// The expansion text is read as QMD reads its model's output (see expansion.ts).
import { MAX_EXPANSION_CHARS, MAX_QUERY_CHARS } from '../scoring/limits.ts';
import { count, MAX_EXPECTED_CHARS, MAX_JSONL_BYTES, MAX_JSONL_LINE_CHARS, MAX_QUERIES } from './limits.ts';

export interface RetrievalQuery {
  query: string;
  expected: string;
  difficulty: string | null;
  intent: string | null;
  /** 1-based line in its file. */
  line: number;
}

/** A file the reader refuses; the message starts with `file:line:` and names the field. */
export class RetrievalFileError extends Error {
  override name = 'RetrievalFileError';
}

type Row = { line: number; fields: Record<string, unknown> };

/** The JSON objects of a JSONL text, numbered by line, within the size limits. */
function* jsonlRows(text: string, file: string): Generator<Row> {
  if (text.length > MAX_JSONL_BYTES) throw new RetrievalFileError(`${file}: ${count(text.length)} characters; at most ${count(MAX_JSONL_BYTES)} are read`);
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const at = `${file}:${i + 1}`;
    if (raw.trim() === '') continue;
    if (raw.length > MAX_JSONL_LINE_CHARS) throw new RetrievalFileError(`${at}: the line is ${count(raw.length)} characters; lines of at most ${count(MAX_JSONL_LINE_CHARS)} are read`);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new RetrievalFileError(`${at}: not JSON (${err instanceof Error ? err.message : String(err)})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RetrievalFileError(`${at}: expected a JSON object`);
    yield { line: i + 1, fields: value as Record<string, unknown> };
  }
}

function text(row: Row, file: string, field: string, max: number, required: true): string;
function text(row: Row, file: string, field: string, max: number, required: false): string | null;
function text(row: Row, file: string, field: string, max: number, required: boolean): string | null {
  const value = row.fields[field];
  const at = `${file}:${row.line}: field "${field}"`;
  if (value === undefined || value === null) {
    if (required) throw new RetrievalFileError(`${at}: expected a string, got ${value === null ? 'null' : 'nothing (field missing)'}`);
    return null;
  }
  if (typeof value !== 'string') {
    const got = Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
    throw new RetrievalFileError(`${at}: expected a string, got ${got}`);
  }
  if (required && value.trim() === '') throw new RetrievalFileError(`${at}: expected a non-empty string`);
  if (value.length > max) throw new RetrievalFileError(`${at}: ${count(value.length)} characters; at most ${count(max)}`);
  return value;
}

/** The queries of a queries file (see the format above); `file` names it in errors. */
export function parseQueries(content: string, file: string): RetrievalQuery[] {
  const queries: RetrievalQuery[] = [];
  for (const row of jsonlRows(content, file)) {
    if (queries.length === MAX_QUERIES) throw new RetrievalFileError(`${file}:${row.line}: more than ${count(MAX_QUERIES)} queries; at most ${count(MAX_QUERIES)} are read`);
    queries.push({
      query: text(row, file, 'query', MAX_QUERY_CHARS, true),
      expected: text(row, file, 'expected_doc', MAX_EXPECTED_CHARS, true),
      difficulty: text(row, file, 'difficulty', MAX_EXPECTED_CHARS, false),
      intent: text(row, file, 'intent', MAX_QUERY_CHARS, false),
      line: row.line,
    });
  }
  if (queries.length === 0) throw new RetrievalFileError(`${file}: no queries (expected lines like {"query": "...", "expected_doc": "..."})`);
  return queries;
}

const KINDS = new Set(['lex', 'vec', 'hyde']);

/** QMD's structured `output` rendered as the text a model writes: one `kind: text` line each. */
function outputText(row: Row, file: string): string {
  const output = row.fields.output;
  const at = `${file}:${row.line}: field "output"`;
  if (!Array.isArray(output)) throw new RetrievalFileError(`${at}: expected an array of ["lex"|"vec"|"hyde", text] pairs`);
  const lines = output.map((pair: unknown, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || !KINDS.has(pair[0]) || typeof pair[1] !== 'string') {
      throw new RetrievalFileError(`${at}[${i}]: expected ["lex"|"vec"|"hyde", text]`);
    }
    return `${pair[0]}: ${pair[1]}`;
  });
  const joined = lines.join('\n');
  if (joined.length > MAX_EXPANSION_CHARS) throw new RetrievalFileError(`${at}: ${count(joined.length)} characters; at most ${count(MAX_EXPANSION_CHARS)}`);
  return joined;
}

/** Expansion text by query, from an expansions file (see the format above). */
export function parseExpansions(content: string, file: string): Map<string, string> {
  const expansions = new Map<string, string>();
  const lineOf = new Map<string, number>();
  for (const row of jsonlRows(content, file)) {
    if (expansions.size === MAX_QUERIES) throw new RetrievalFileError(`${file}:${row.line}: more than ${count(MAX_QUERIES)} expansions; at most ${count(MAX_QUERIES)} are read`);
    const query = text(row, file, 'query', MAX_QUERY_CHARS, true);
    const expansion = 'output' in row.fields ? outputText(row, file) : text(row, file, 'expansion', MAX_EXPANSION_CHARS, true);
    const earlier = lineOf.get(query);
    if (earlier !== undefined) throw new RetrievalFileError(`${file}:${row.line}: query ${JSON.stringify(query)} already has an expansion on line ${earlier}`);
    expansions.set(query, expansion);
    lineOf.set(query, row.line);
  }
  return expansions;
}
