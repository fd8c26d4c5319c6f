// Hostile expansions: the cost of scoring one is bounded (counted in comparisons and output
// size, not time), results stay what the reference rules say, and oversize input is refused.
import { describe, expect, it } from 'vitest';
import { explain, scoreBoth, scoreEval, ScoringLimitError, MAX_EXPANSION_CHARS, MAX_EXPANSION_LINES, MAX_QUERY_CHARS } from './index.ts';
import { MAX_LISTED_PAIRS } from './limits.ts';
import { duplicates, isDiverse } from './rules.ts';
import { mulberry32 } from '../random.ts';

/** The spec's definition, pair by pair: the reference the grouped version must equal. */
function naivePairs(lines: string[], min: number): [number, number][] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < lines.length; i++) {
    for (let j = i + 1; j < lines.length; j++) if (!isDiverse(lines[i]!, lines[j]!, min)) pairs.push([i, j]);
  }
  return pairs;
}

describe('duplicate pairs', () => {
  it('equal the pair-by-pair definition on random lines with many repeats', () => {
    const random = mulberry32(7);
    const vocabulary = ['auth', 'config', 'Auth', 'setup', 'nginx', 'proxy', 'how to', 'the', ' '];
    for (let trial = 0; trial < 200; trial++) {
      const lines = Array.from({ length: 1 + Math.floor(random() * 14) }, () =>
        Array.from({ length: Math.floor(random() * 4) }, () => vocabulary[Math.floor(random() * vocabulary.length)]).join(' '),
      );
      for (const min of [2, 3]) {
        const expected = naivePairs(lines, min);
        const found = duplicates(lines, min, 5);
        expect(found.count).toBe(expected.length);
        expect(found.listed).toEqual(expected.slice(0, 5));
        for (let i = 0; i < lines.length; i++) {
          for (let j = 0; j < lines.length; j++) {
            if (i !== j) expect(found.isDuplicate(i, j)).toBe(expected.some(([a, b]) => (a === Math.min(i, j) && b === Math.max(i, j))));
          }
        }
      }
    }
  });

  it('compare identical lines once: 1,000 copies cost no comparison and list only the cap', () => {
    const found = duplicates(Array.from({ length: 1000 }, () => 'a'), 2, MAX_LISTED_PAIRS);
    expect(found.comparisons).toBe(0);
    expect(found.count).toBe((1000 * 999) / 2);
    expect(found.listed).toHaveLength(MAX_LISTED_PAIRS);
  });

  it('compare each pair of distinct lines once at most', () => {
    const lines = Array.from({ length: 300 }, (_, i) => `word${i} other${i % 7}`);
    expect(duplicates([...lines, ...lines], 2, MAX_LISTED_PAIRS).comparisons).toBe((300 * 299) / 2);
  });
});

describe('scoring hostile expansions', () => {
  it('keeps the points of every pair but lists a bounded number of deductions', () => {
    const expansion = 'lex: a\n'.repeat(MAX_EXPANSION_LINES - 1) + 'vec: how do I configure a thing';
    const score = scoreEval('a', expansion);
    const pairs = ((MAX_EXPANSION_LINES - 1) * (MAX_EXPANSION_LINES - 2)) / 2;
    expect(score.diversity).toBe(10 + 5 + 0 + 5 + 0); // both kinds, ≥2 lines, lex pairs take all 5, vec none, echoes take 5
    const duplicateNotes = score.deductions.filter((d) => d.startsWith('lex duplicates'));
    expect(duplicateNotes).toHaveLength(MAX_LISTED_PAIRS + 1);
    expect(duplicateNotes.at(-1)).toBe(`lex duplicates: ${(pairs - MAX_LISTED_PAIRS).toLocaleString('en-US')} more pairs not listed`);
    // Output grows with the input at most linearly: echo notes are per line, nothing per pair.
    expect(JSON.stringify(score).length).toBeLessThan(20 * expansion.length);
  });

  it('bounds the explanation: each line names at most the cap of earlier duplicates and counts the rest', () => {
    const e = explain('q', 'lex: same\n'.repeat(500));
    const last = e.lines.at(-1)!;
    expect(last.duplicates).toBe(499);
    expect(last.duplicateOf).toHaveLength(MAX_LISTED_PAIRS);
    expect(JSON.stringify(e).length).toBeLessThan(200 * 500);
  });

  it("refuses the issue's 80 KB expansion, naming the limit", () => {
    expect(() => scoreBoth('a', 'lex: a\n'.repeat(10_000))).toThrow(ScoringLimitError);
    expect(() => scoreBoth('a', 'lex: a\n'.repeat(10_000))).toThrow(`the scorers accept at most ${MAX_EXPANSION_CHARS.toLocaleString('en-US')}`);
  });

  it('refuses too many non-blank lines and too long a query, but not blank lines', () => {
    expect(() => scoreEval('a', 'lex:\n'.repeat(MAX_EXPANSION_LINES + 1))).toThrow(/501 non-blank lines; the scorers accept at most 500/);
    expect(() => explain('q'.repeat(MAX_QUERY_CHARS + 1), 'lex: a')).toThrow(/query is 2,001 characters/);
    expect(scoreEval('a', 'lex: a' + '\n \n'.repeat(5000)).format).toBeGreaterThan(0);
  });

  it('scores the worst accepted shapes in bounded comparisons', () => {
    // 500 distinct short lines: the largest number of distinct pairs the limits allow.
    const lines = Array.from({ length: MAX_EXPANSION_LINES }, (_, i) => `lex: t${i}`);
    const found = duplicates(lines.map((l) => l.slice(5)), 2, MAX_LISTED_PAIRS);
    expect(found.comparisons).toBe((MAX_EXPANSION_LINES * (MAX_EXPANSION_LINES - 1)) / 2);
    expect(scoreBoth('t', lines.join('\n')).eval.format).toBe(20);
  });
});
