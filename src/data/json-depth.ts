// One nesting limit for every JSON text a user hands us (dataset rows, `qmd score` rows, Python
// eval files). JSON.parse copes with deep nesting in V8, but what comes after it does not:
// JSON.stringify, structuredClone (IndexedDB) and our own comparisons recurse and die with
// "Maximum call stack size exceeded" around 10,000 levels, losing the rest of the run. The
// check below runs on the raw text first: one pass, no recursion, stops at the first excess.

/**
 * Levels of arrays and objects a JSON text may nest. QMD's formats need at most four
 * (a Python eval file: list → item → scores → deductions), so real data never meets it.
 */
export const MAX_JSON_DEPTH = 64;

/** A JSON text that nests deeper than the limit; `at` is the position of the bracket beyond it. */
export class JsonNestingError extends Error {
  override name = 'JsonNestingError';
  constructor(
    readonly at: number,
    /** 0-based entry of the outermost array or object that holds the excess. */
    readonly entry: number,
    readonly limit: number,
  ) {
    super(`arrays and objects nest deeper than ${limit} levels (at position ${at}); the limit is ${limit}`);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/**
 * Where `text` first nests deeper than `limit`, or undefined. Brackets inside strings do not
 * count. It does not validate the JSON (JSON.parse does), so on broken text it may stop early
 * or late, never recursing and never reading past the end.
 */
export function excessNesting(text: string, limit = MAX_JSON_DEPTH): { at: number; entry: number } | undefined {
  let depth = 0;
  let entry = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(text, i);
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > limit) return { at: i, entry };
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    } else if (c === COMMA && depth === 1) {
      entry++;
    }
  }
  return undefined;
}

/** Position of the quote closing the string opened at `open` (text.length if none). */
function stringEnd(text: string, open: number): number {
  for (let close = text.indexOf('"', open + 1); close >= 0; close = text.indexOf('"', close + 1)) {
    // Escaped when an odd number of backslashes precede it.
    let backslashes = 0;
    while (text.charCodeAt(close - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return close;
  }
  return text.length;
}

/** JSON.parse after the nesting check: throws JsonNestingError, or JSON.parse's SyntaxError. */
export function parseBoundedJson(text: string, limit = MAX_JSON_DEPTH): unknown {
  const excess = excessNesting(text, limit);
  if (excess) throw new JsonNestingError(excess.at, excess.entry, limit);
  return JSON.parse(text);
}

/**
 * Whether a parsed value nests deeper than `limit` (arrays and objects), by an explicit-stack
 * walk: no recursion, each node visited once, stopping at the first excess.
 */
export function nestsDeeper(value: unknown, limit = MAX_JSON_DEPTH): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth + 1 > limit) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}
