// The results file of QMD's Python eval script: a JSON list of
// {query, expansion, scores, parsed}, where `scores` is the eval result without `parsed`.
// Importing recomputes every score with our scorer and lists each place where the file's
// stored scores disagree, since a silent difference would make the two tools' numbers
// incomparable.
import type { EvalResult } from '../data/db.ts';
import { MAX_JSON_DEPTH, nestsDeeper } from '../data/json-depth.ts';
import { checkScorable, ScoringLimitError, type EvalScore } from '../scoring/index.ts';
import { scoreUntrusted, type ExpansionPair } from './result.ts';

export class PythonEvalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PythonEvalError';
  }
}

export interface ScoreDisagreement {
  /** 0-based position in the file's list. */
  index: number;
  query: string;
  /** e.g. `scores.total`, `parsed.lex`. */
  field: string;
  /** undefined when the file lacks the field. */
  stored: unknown;
  /** undefined when our scorer has no such field. */
  recomputed: unknown;
}

/** An item whose stored scores could not be compared (the pair itself is imported and scored). */
export interface UncomparedItem {
  index: number;
  reason: string;
}

export interface PythonEvalImport {
  result: EvalResult;
  disagreements: ScoreDisagreement[];
  uncompared: UncomparedItem[];
}

interface StoredItem {
  pair: ExpansionPair;
  scores?: Record<string, unknown>;
  parsed?: Record<string, unknown>;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (field missing)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)?.slice(0, 40)}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readItem(value: unknown, index: number, fileName: string): StoredItem {
  const where = `${fileName}: item ${index}`;
  if (!isRecord(value)) {
    throw new PythonEvalError(`${where}: expected an object {query, expansion, scores, parsed}, got ${describe(value)}`);
  }
  for (const field of ['query', 'expansion'] as const) {
    if (typeof value[field] !== 'string') {
      throw new PythonEvalError(`${where}: field "${field}": expected a string, got ${describe(value[field])}`);
    }
  }
  const item: StoredItem = { pair: { query: value.query as string, expansion: value.expansion as string } };
  try {
    checkScorable(item.pair.query, item.pair.expansion);
  } catch (error) {
    if (error instanceof ScoringLimitError) throw new PythonEvalError(`${where}: ${error.message}`);
    throw error;
  }
  for (const field of ['scores', 'parsed'] as const) {
    if (value[field] === undefined) continue;
    if (!isRecord(value[field])) {
      throw new PythonEvalError(`${where}: field "${field}": expected an object, got ${describe(value[field])}`);
    }
    item[field] = value[field];
  }
  return item;
}

function sameJson(x: unknown, y: unknown): boolean {
  if (Array.isArray(x) && Array.isArray(y)) return x.length === y.length && x.every((v, i) => sameJson(v, y[i]));
  if (isRecord(x) && isRecord(y)) {
    const keys = Object.keys(x);
    return keys.length === Object.keys(y).length && keys.every((k) => Object.hasOwn(y, k) && sameJson(x[k], y[k]));
  }
  return x === y;
}

/** `record[key]` if the record has it itself: `constructor` or `__proto__` in a file are keys like any other. */
function own(record: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function compareFields(
  prefix: string,
  stored: Record<string, unknown>,
  recomputed: Record<string, unknown>,
  report: (field: string, stored: unknown, recomputed: unknown) => void,
): void {
  const keys = new Set([...Object.keys(stored), ...Object.keys(recomputed)]);
  for (const key of keys) {
    const [file, ours] = [own(stored, key), own(recomputed, key)];
    if (!sameJson(file, ours)) report(`${prefix}.${key}`, file, ours);
  }
}

/** The file's `scores` object: the eval result without `parsed`, keys in the Python order. */
function pythonScores(score: EvalScore): Record<string, unknown> {
  return {
    format: score.format,
    diversity: score.diversity,
    hyde: score.hyde,
    quality: score.quality,
    deductions: score.deductions,
    total: score.total,
    max_possible: score.max_possible,
    percentage: score.percentage,
    rating: score.rating,
    is_continuation: score.is_continuation,
  };
}

export async function importPythonEval(text: string, fileName: string, signal?: AbortSignal): Promise<PythonEvalImport> {
  let data: unknown;
  try {
    // V8's JSON.parse does not recurse; what recurses is the comparison and the report of a
    // stored value, so deep stored values are set aside per item below instead.
    data = JSON.parse(text);
  } catch (error) {
    throw new PythonEvalError(`${fileName}: not valid JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(data) || data.length === 0) {
    throw new PythonEvalError(`${fileName}: expected a non-empty JSON list of {query, expansion, scores, parsed}, got ${describe(data)}`);
  }
  const uncompared: UncomparedItem[] = [];
  const stored = data.map((value, index) => {
    const item = readItem(value, index, fileName);
    for (const field of ['scores', 'parsed'] as const) {
      if (item[field] && nestsDeeper(item[field], MAX_JSON_DEPTH - 2)) {
        delete item[field];
        uncompared.push({ index, reason: `stored "${field}" nests deeper than ${MAX_JSON_DEPTH} levels: not compared` });
      }
    }
    return item;
  });
  const result = await scoreUntrusted({
    name: fileName.replace(/\.json$/i, ''),
    model: { base: fileName, adapter: null },
    profile: 'eval',
    settings: null,
    pairs: stored.map((item) => item.pair),
    origin: 'import',
  }, signal);
  const disagreements: ScoreDisagreement[] = [];
  stored.forEach((item, index) => {
    const score = result.items[index].eval;
    const report = (field: string, storedValue: unknown, recomputed: unknown) =>
      disagreements.push({ index, query: item.pair.query, field, stored: storedValue, recomputed });
    if (item.scores) compareFields('scores', item.scores, pythonScores(score), report);
    if (item.parsed) compareFields('parsed', item.parsed, { ...score.parsed }, report);
  });
  return { result, disagreements, uncompared };
}

/** The result as a Python eval file (2-space indent, as the Python script writes it). */
export function exportPythonEval(result: EvalResult): string {
  const items = result.items.map((item) => ({
    query: item.query,
    expansion: item.expansion,
    scores: pythonScores(item.eval),
    parsed: item.eval.parsed,
  }));
  return JSON.stringify(items, null, 2);
}

/** Characters of a value a disagreement quotes: the file's values may be of any size. */
const QUOTED_CHARS = 200;

/** One line per disagreement, for a report. */
export function describeDisagreement(d: ScoreDisagreement): string {
  const show = (value: unknown) => (value === undefined ? '(absent)' : shorten(JSON.stringify(value)));
  return `item ${d.index} (${shorten(JSON.stringify(d.query))}): ${shorten(d.field)}: file has ${show(d.stored)}, recomputed ${show(d.recomputed)}`;
}

function shorten(text: string): string {
  return text.length > QUOTED_CHARS ? `${text.slice(0, QUOTED_CHARS)}…` : text;
}
