import { describe, expect, it } from 'vitest';
import { buildFtsQuery, normalizeCjkForFts, sanitizeFtsTerm } from './fts-query.ts';

describe('buildFtsQuery', () => {
  // The first six are the examples QMD documents in buildFTS5Query's comment and tests.
  const cases: [string, string | null][] = [
    ['performance -sports', '"performance"* NOT "sports"*'],
    ['"machine learning"', '"machine learning"'],
    ['multi-agent memory', '"multi agent" AND "memory"*'],
    ['DEC-0054', '"dec 0054"'],
    ['-multi-agent', null],
    ['memory -multi-agent', '"memory"* NOT "multi agent"'],
    ['2026.4.10', '"2026"* AND "4"* AND "10"*'],
    // Our own: case, punctuation, prefixes, mixtures.
    ['API versioning', '"api"* AND "versioning"*'],
    ['  Hello,   World!  ', '"hello"* AND "world"*'],
    ["don't panic", `"don't"* AND "panic"*`],
    ['snake_case', '"snake_case"*'],
    ['gpt-4 release', '"gpt 4" AND "release"*'],
    ['v1.2.3 notes', '"v1"* AND "2"* AND "3"* AND "notes"*'],
    ['release -v1.2', '"release"* NOT ("v1"* AND "2"*)'],
    ['"release 2026.4.10"', '"release 2026 4 10"'],
    ['a -"bad phrase" -x', '"a"* NOT "bad phrase" NOT "x"*'],
    ['"unclosed phrase', '"unclosed phrase"'],
    ['""', null],
    ['-only -negations', null],
    ['', null],
    ['!!! ???', null],
    ['foo - bar', '"foo"* AND "bar"*'],
    ['CI/CD pipeline', '"cicd"* AND "pipeline"*'],
    ['.leading trailing.', '"leading"* AND "trailing"*'],
    ['3.14', '"3"* AND "14"*'],
    ['-', null],
    ['Über café', '"über"* AND "café"*'],
    ['東京 tower', '"東 京" AND "tower"*'],
    ['"quoted"adjacent', '"quoted" AND "adjacent"*'],
    ['multi--agent', '"multi agent"'],
  ];
  it.each(cases)('%j → %j', (query, expected) => {
    expect(buildFtsQuery(query)).toBe(expected);
  });

  it('never lets a quote or operator from the query into the expression', () => {
    const hostile = 'a" OR b NEAR(c d) * ^x {col}: "e';
    const built = buildFtsQuery(hostile)!;
    // The user's quotes open and close a phrase; FTS5 operators inside it are plain words.
    expect(built).toBe('"a"* AND "or b nearc d x col" AND "e"*');
  });
});

describe('term helpers', () => {
  it('sanitizes to lower-case letters, digits, apostrophes and underscores', () => {
    expect(sanitizeFtsTerm('Hello-World_1\'s!')).toBe("helloworld_1's");
  });
  it('spaces out CJK runs and leaves other text alone', () => {
    expect(normalizeCjkForFts('abc日本語def')).toBe('abc 日 本 語 def');
    expect(normalizeCjkForFts('plain text')).toBe('plain text');
  });
});
