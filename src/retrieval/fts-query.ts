// A typed search string → an FTS5 MATCH expression, by QMD's rules (tobi/qmd src/store.ts,
// buildFTS5Query, v2.8.3), so our BM25 lists are the lists QMD's `search` returns:
//   plain term        → "term"*            prefix match, lower-cased, only letters/digits/'/_ kept
//   "quoted phrase"   → "quoted phrase"    exact phrase, no prefix
//   multi-agent       → "multi agent"      a hyphen between word characters makes a phrase
//   2026.4.10         → "2026"* AND "4"* AND "10"*   the porter tokenizer splits on dots
//   CJK run           → "中 文"             one token per character (see normalizeCjkForFts)
//   -x                → NOT x              for any of the above; NOT is binary in FTS5, so a
//                                          query of negations alone matches nothing (null)
// Positive parts are ANDed. The output quotes every part, so no user text reaches FTS5's syntax.

const CJK_CHAR = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const CJK_RUN = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+/gu;
const SPACE = /\s/;

/**
 * unicode61 does not split CJK text into words: every CJK character becomes its own token, in
 * the index (filepath, title, body) and in queries alike.
 */
export function normalizeCjkForFts(text: string): string {
  return text.replace(CJK_RUN, (run) => ` ${Array.from(run).join(' ')} `);
}

/** Lower-cased, only letters, digits, apostrophes and underscores left. */
export function sanitizeFtsTerm(term: string): string {
  return term.replace(/[^\p{L}\p{N}'_]/gu, '').toLowerCase();
}

/** multi-agent, DEC-0054, gpt-4: hyphens inside a word. */
function isHyphenated(token: string): boolean {
  return /^[\p{L}\p{N}][\p{L}\p{N}'-]*-[\p{L}\p{N}][\p{L}\p{N}'-]*$/u.test(token);
}

/** 2026.4.10, v1.2.3: at least two non-empty word parts between dots. */
function isDotted(token: string): boolean {
  const parts = token.split('.');
  return parts.length >= 2 && parts.every((p) => /^[\p{L}\p{N}_]+$/u.test(p));
}

/** The words of a phrase (dotted tokens split into their parts), sanitized, space-joined. */
function sanitizePhrase(phrase: string): string {
  return normalizeCjkForFts(phrase)
    .split(/\s+/)
    .flatMap((t) => (isDotted(t) ? t.split('.') : [t]))
    .map(sanitizeFtsTerm)
    .filter((t) => t !== '')
    .join(' ');
}

/** The FTS5 parts one unquoted token contributes (several ANDed parts for a dotted token). */
function termParts(term: string, negated: boolean): string[] {
  if (isHyphenated(term)) {
    const phrase = term.split('-').map(sanitizeFtsTerm).filter((t) => t !== '').join(' ');
    return phrase ? [`"${phrase}"`] : [];
  }
  if (isDotted(term)) {
    const parts = term.split('.').map(sanitizeFtsTerm).filter((t) => t !== '').map((t) => `"${t}"*`);
    if (parts.length === 0) return [];
    // A negated group needs parentheses; a positive one joins the other positive parts directly.
    return negated ? [`(${parts.join(' AND ')})`] : parts;
  }
  if (CJK_CHAR.test(term)) {
    const phrase = sanitizePhrase(term);
    return phrase ? [`"${phrase}"`] : [];
  }
  const sanitized = sanitizeFtsTerm(term);
  return sanitized ? [`"${sanitized}"*`] : [];
}

/** The FTS5 MATCH expression for `query`, or null when nothing positive is left to match. */
export function buildFtsQuery(query: string): string | null {
  const positive: string[] = [];
  const negative: string[] = [];
  const s = query.trim();
  let i = 0;
  while (i < s.length) {
    while (i < s.length && SPACE.test(s[i]!)) i++;
    if (i >= s.length) break;
    const negated = s[i] === '-';
    if (negated) i++;
    const into = negated ? negative : positive;
    if (s[i] === '"') {
      const start = ++i;
      while (i < s.length && s[i] !== '"') i++;
      const phrase = sanitizePhrase(s.slice(start, i).trim());
      i++; // the closing quote (or past the end of an unclosed one)
      if (phrase) into.push(`"${phrase}"`);
    } else {
      const start = i;
      while (i < s.length && !SPACE.test(s[i]!) && s[i] !== '"') i++;
      into.push(...termParts(s.slice(start, i), negated));
    }
  }
  if (positive.length === 0) return null;
  return [positive.join(' AND '), ...negative].join(' NOT ');
}
