// What the scorers accept. A model emits at most its max new tokens (the Python eval: 200, QMD's
// expandQuery: 600); a Qwen3 token averages ~4 characters and each line costs at least two tokens
// (Qwen's pre-tokenizer keeps a newline apart from text), so 600 tokens make at most 300 lines.
// The limits sit above that, so no real expansion meets them, while the cost of scoring anything
// that passes stays bounded: duplicate detection compares pairs of distinct lines, ≤ 124,750 per
// kind (~25 ms on a 2-core CI machine, bench/score-limits.ts).
import { isSpace } from './text.ts';

/** Characters (UTF-16 units) of a query: a search box line, with room to spare. */
export const MAX_QUERY_CHARS = 2_000;
/** Characters of an expansion: 600 tokens at over 50 characters a token. */
export const MAX_EXPANSION_CHARS = 32_768;
/** Non-blank lines of an expansion: over 1.5 × what a 600-token generation can hold. */
export const MAX_EXPANSION_LINES = 500;
/** Duplicate pairs listed per kind in a profile's explanation; the rest are counted in one line. */
export const MAX_LISTED_PAIRS = 12;

/** An input the scorers refuse; the message names the limit and the measured size. */
export class ScoringLimitError extends Error {
  override name = 'ScoringLimitError';
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** Throws ScoringLimitError unless the pair is within the limits above; O(length) work. */
export function checkScorable(query: string, expansion: string): void {
  if (query.length > MAX_QUERY_CHARS) {
    throw new ScoringLimitError(`query is ${count(query.length)} characters; the scorers accept at most ${count(MAX_QUERY_CHARS)}`);
  }
  if (expansion.length > MAX_EXPANSION_CHARS) {
    throw new ScoringLimitError(
      `expansion is ${count(expansion.length)} characters; the scorers accept at most ${count(MAX_EXPANSION_CHARS)}`,
    );
  }
  // Blank lines cost nothing downstream (the parser drops them), so only the others count.
  let lines = 0;
  let blank = true;
  for (let i = 0; i <= expansion.length; i++) {
    const unit = i < expansion.length ? expansion.charCodeAt(i) : 0x0a;
    if (unit === 0x0a) {
      if (!blank) lines++;
      blank = true;
    } else if (!isSpace(unit)) blank = false;
  }
  if (lines > MAX_EXPANSION_LINES) {
    throw new ScoringLimitError(`expansion has ${count(lines)} non-blank lines; the scorers accept at most ${count(MAX_EXPANSION_LINES)}`);
  }
}
