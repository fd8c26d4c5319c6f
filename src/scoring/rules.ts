// The rules both profiles share (spec/scoring.md, "Shared definitions").
import { cpLength, lower, strip, words } from './text.ts';

export const EVAL_STOP: ReadonlySet<string> = new Set([
  'what', 'is', 'how', 'to', 'the', 'a', 'an', 'in', 'on', 'for', 'of', 'and', 'or', 'with', 'my',
  'your', 'do', 'does', 'can', 'i', 'me', 'we',
]);

export const KEY_STOP: ReadonlySet<string> = new Set([
  ...EVAL_STOP, 'who', 'where', 'when', 'why', 'which', 'find', 'get', 'show', 'tell',
]);

const REPETITION_STOP: ReadonlySet<string> = new Set([
  'the', 'a', 'an', 'is', 'are', 'to', 'for', 'of', 'in', 'and', 'or', 'it', 'this', 'that', 'be',
  'with', 'as', 'on', 'by',
]);

/** Minimum word-set difference for two lines of a kind to count as different expansions. */
export const MIN_DIFFERENT_WORDS = { lex: 2, vec: 3 } as const;

/** A line as the diversity rule compares it: stripped lower-case text and its set of words. */
interface Comparable {
  text: string;
  words: Set<string>;
}

function comparable(line: string): Comparable {
  const text = strip(lower(line));
  return { text, words: new Set(words(text)) };
}

function differ(a: Comparable, b: Comparable, minDifferentWords: number): boolean {
  if (a.text === b.text || a.text.includes(b.text) || b.text.includes(a.text)) return false;
  let different = 0;
  for (const w of a.words) if (!b.words.has(w)) different++;
  for (const w of b.words) if (!a.words.has(w)) different++;
  return different >= minDifferentWords;
}

export function isDiverse(a: string, b: string, minDifferentWords: number): boolean {
  return differ(comparable(a), comparable(b), minDifferentWords);
}

/** A line that merely repeats the query (possibly with a few characters added). */
export function echoes(line: string, query: string): boolean {
  const e = strip(lower(line));
  const q = strip(lower(query));
  return e === q || (e.includes(q) && cpLength(e) < cpLength(q) + 10);
}

/** The near-duplicate pairs (i < j) among the lines of one kind. */
export interface Duplicates {
  /** The first `limit` pairs in the order the scorers visit them (i, then j, ascending). */
  listed: [number, number][];
  /** Every pair, listed or not. */
  count: number;
  /** Whether lines i and j (either order, i ≠ j) are not diverse. */
  isDuplicate(i: number, j: number): boolean;
  /** Calls of the pairwise comparison made: at most distinct × (distinct − 1) / 2. */
  comparisons: number;
}

/**
 * Identical lines are compared once: lines are grouped by their compared text, the groups are
 * compared pairwise, and pair counts come from group sizes. The work is bounded by the square of
 * the number of *distinct* lines (limits.ts bounds that) and the output by `limit`, however many
 * pairs there are (1,000 identical lines make 499,500).
 */
export function duplicates(lines: readonly string[], minDifferentWords: number, limit: number): Duplicates {
  const groupOf = new Int32Array(lines.length);
  const groups: Comparable[] = [];
  const sizes: number[] = [];
  const index = new Map<string, number>();
  lines.forEach((line, i) => {
    const c = comparable(line);
    let g = index.get(c.text);
    if (g === undefined) {
      g = groups.length;
      index.set(c.text, g);
      groups.push(c);
      sizes.push(0);
    }
    groupOf[i] = g;
    sizes[g]!++;
  });
  const u = groups.length;
  const same = new Uint8Array(u * u);
  let count = 0;
  let comparisons = 0;
  for (let a = 0; a < u; a++) {
    same[a * u + a] = 1;
    count += (sizes[a]! * (sizes[a]! - 1)) / 2;
    for (let b = a + 1; b < u; b++) {
      comparisons++;
      if (!differ(groups[a]!, groups[b]!, minDifferentWords)) {
        same[a * u + b] = same[b * u + a] = 1;
        count += sizes[a]! * sizes[b]!;
      }
    }
  }
  const isDuplicate = (i: number, j: number) => same[groupOf[i]! * u + groupOf[j]!] === 1;
  const listed: [number, number][] = [];
  for (let i = 0; i < lines.length && listed.length < limit; i++) {
    for (let j = i + 1; j < lines.length && listed.length < limit; j++) if (isDuplicate(i, j)) listed.push([i, j]);
  }
  return { listed, count, isDuplicate, comparisons };
}

const NON_ASCII_WORD_CHAR = /[\p{L}\p{N}]/u;

/** UTF-16 units taken by the code point at `i` when it is a word character (Python `\w`, per the spec
 * `[\p{L}\p{N}_]`), else 0; ASCII is decided without the Unicode regex, which dominates otherwise. */
function wordCharUnits(s: string, i: number): number {
  const code = s.charCodeAt(i);
  if (code < 0x80) {
    const isWord = (code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a);
    return isWord || code === 0x5f ? 1 : 0;
  }
  const cp = s.codePointAt(i)!;
  const units = cp > 0xffff ? 2 : 1;
  return NON_ASCII_WORD_CHAR.test(s.slice(i, i + units)) ? units : 0;
}

/** Penalty for content words used three times or more: (count - 2) x 2 each. */
export function repetitionPenalty(text: string): number {
  const counts = new Map<string, number>();
  const l = lower(text);
  let start = -1;
  for (let i = 0; i <= l.length; ) {
    const units = i < l.length ? wordCharUnits(l, i) : 0;
    if (units > 0 && start < 0) start = i;
    if (units === 0 && start >= 0) {
      const w = l.slice(start, i);
      counts.set(w, (counts.get(w) ?? 0) + 1);
      start = -1;
    }
    i += Math.max(units, 1);
  }
  let penalty = 0;
  for (const [w, count] of counts) {
    if (count >= 3 && !REPETITION_STOP.has(w) && cpLength(w) > 2) penalty += (count - 2) * 2;
  }
  return penalty;
}

export function keyTerms(query: string, stop: ReadonlySet<string>): Set<string> {
  return new Set(words(lower(query)).filter((w) => !stop.has(w)));
}

export function preservesKeyTerms(line: string, terms: ReadonlySet<string>): boolean {
  if (terms.size === 0) return true;
  return words(lower(line)).some((w) => terms.has(w));
}

/** A vec line reads like a sentence rather than keywords. */
export function isNatural(line: string): boolean {
  return line.includes(' ') && cpLength(line) > 15;
}

export function meanLength(lines: readonly string[]): number {
  let sum = 0;
  for (const line of lines) sum += cpLength(line);
  return sum / lines.length;
}

export const HYDE_MIN_LENGTH = 50;
export const HYDE_MAX_LENGTH = 200;
