// Named entities of a query and generic filler lines (spec: "named_entities", "is_generic").
// The reward profile wants lex lines that keep the query's names (TDS, node.js, C++) and
// punishes filler such as "search for".
import { KEY_STOP } from './rules.ts';
import { compareCodePoints, cpLength, isUpper, lower, strip, words } from './text.ts';

const EDGE_PUNCTUATION = new Set(['.', ',', '!', '?', ':', ';', '(', ')', '[', ']', '"', "'"]);
const ENTITY_MARKS = /[.+\-#@]/;
const UPPER = /^\p{Uppercase}$/u;

/** Python `word.strip('.,!?:;()[]"\'')`. */
function cleanWord(word: string): string {
  let start = 0;
  let end = word.length;
  while (start < end && EDGE_PUNCTUATION.has(word[start]!)) start++;
  while (end > start && EDGE_PUNCTUATION.has(word[end - 1]!)) end--;
  return word.slice(start, end);
}

function isEntityWord(clean: string, index: number, previousWasEntity: boolean): boolean {
  const chars = Array.from(clean);
  const length = chars.length;
  const key = lower(clean);
  const firstUpper = UPPER.test(chars[0]!);
  return (
    (length >= 2 && isUpper(clean)) ||
    (index > 0 && firstUpper && !KEY_STOP.has(key)) ||
    (length >= 2 && ENTITY_MARKS.test(clean)) ||
    (length > 1 && firstUpper && chars.slice(1).some((c) => UPPER.test(c))) ||
    (previousWasEntity && !KEY_STOP.has(key))
  );
}

/** The lower-cased named entities of a query, sorted as Python sorts strings (by code point). */
export function namedEntities(query: string): string[] {
  const found = new Set<string>();
  let previousWasEntity = false;
  words(query).forEach((word, index) => {
    const clean = cleanWord(word);
    previousWasEntity = clean !== '' && isEntityWord(clean, index, previousWasEntity);
    if (previousWasEntity) found.add(lower(clean));
  });
  return [...found].sort(compareCodePoints);
}

/** Whether a line mentions any entity (substring of its lower-cased text). */
export function mentionsEntity(line: string, entities: readonly string[]): boolean {
  const l = lower(line);
  return entities.some((e) => l.includes(e));
}

const GENERIC_PHRASES: readonly string[][] = [
  'find information about', 'search for', 'look up', 'get information', 'learn about', 'information on',
  'details about', 'find out about', 'what is', 'how to', 'guide to', 'help with',
].map((phrase) => phrase.split(' '));

/** A line that is (almost) nothing but a filler phrase. */
export function isGeneric(line: string): boolean {
  const l = strip(lower(line));
  return GENERIC_PHRASES.some((phrase) => {
    if (!l.includes(phrase.join(' ')) && !l.startsWith(phrase[0]!)) return false;
    let remaining = l;
    for (const word of phrase) remaining = strip(remaining.replace(word, ''));
    return cpLength(remaining) < 3;
  });
}
