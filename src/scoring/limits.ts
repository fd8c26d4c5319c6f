// What the scorers accept. A model emits at most its max new tokens (the Python eval: 200, QMD's
// expandQuery: 600); a Qwen3 token averages ~4 characters and each line costs at least two tokens
// (text and newline). The limits sit far above that, so no real expansion meets them, while the
// cost of scoring anything that passes stays bounded (duplicate detection compares line pairs).

/** Characters (UTF-16 units) of a query: a search box line, with room to spare. */
export const MAX_QUERY_CHARS = 2_000;
/** Characters of an expansion: 600 tokens at over 50 characters a token. */
export const MAX_EXPANSION_CHARS = 32_768;
/** Lines of an expansion: more than one line per token of a 600-token generation. */
export const MAX_EXPANSION_LINES = 1_000;
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
  let lines = 1;
  for (let i = expansion.indexOf('\n'); i >= 0; i = expansion.indexOf('\n', i + 1)) lines++;
  if (lines > MAX_EXPANSION_LINES) {
    throw new ScoringLimitError(`expansion has ${count(lines)} lines; the scorers accept at most ${count(MAX_EXPANSION_LINES)}`);
  }
}
