import { describe, expect, it } from 'vitest';
import { fuseRanks, listWeight, mergeByBestScore, type RankedList } from './fusion.ts';

const fts = (queryType: RankedList['queryType'], paths: string[]): RankedList => ({ source: 'fts', queryType, query: queryType, paths });
const vec = (queryType: RankedList['queryType'], paths: string[]): RankedList => ({ source: 'vec', queryType, query: queryType, paths });

describe('fuseRanks (QMD reciprocalRankFusion with hybridQuery weights)', () => {
  it('sums weight / (60 + rank + 1) and adds the top-rank bonuses, by hand', () => {
    const fused = fuseRanks([fts('original', ['A', 'B', 'C']), fts('lex', ['B', 'D'])]);
    // A: 2/61 + 0.05 (first in the original list)
    // B: 2/62 + 1/61 + 0.05 (first in the lex list)
    // C: 2/63 + 0.02 (third)
    // D: 1/62 + 0.02 (second)
    expect(fused.map((n) => n.path)).toEqual(['B', 'A', 'C', 'D']);
    const score = Object.fromEntries(fused.map((n) => [n.path, n.score]));
    expect(score.A).toBeCloseTo(2 / 61 + 0.05, 15);
    expect(score.B).toBeCloseTo(2 / 62 + 1 / 61 + 0.05, 15);
    expect(score.C).toBeCloseTo(2 / 63 + 0.02, 15);
    expect(score.D).toBeCloseTo(1 / 62 + 0.02, 15);
  });

  it('gives the +0.02 bonus to ranks 2 and 3 only, and counts a note by its best rank', () => {
    const fused = fuseRanks([vec('vec', ['A', 'B', 'C', 'D', 'E']), vec('hyde', ['E'])]);
    const score = Object.fromEntries(fused.map((n) => [n.path, n.score]));
    expect(score.C).toBeCloseTo(1 / 63 + 0.02, 15);
    expect(score.D).toBeCloseTo(1 / 64, 15); // fourth: no bonus
    expect(score.E).toBeCloseTo(1 / 65 + 1 / 61 + 0.05, 15); // first in the hyde list
    expect(fused[0]!.path).toBe('E');
  });

  it('weighs original-query lists 2 and expansion lists 1 whatever their order', () => {
    expect([listWeight('original'), listWeight('lex'), listWeight('vec'), listWeight('hyde')]).toEqual([2, 1, 1, 1]);
    const fused = fuseRanks([fts('lex', ['X', 'Y']), vec('original', ['Y', 'X'])]);
    // X: 1/61 + 2/62 + 0.05; Y: 1/62 + 2/61 + 0.05 → Y ahead, because the original list weighs 2.
    expect(fused.map((n) => n.path)).toEqual(['Y', 'X']);
    expect(fused[0]!.score).toBeCloseTo(1 / 62 + 2 / 61 + 0.05, 15);
  });

  it('keeps the first-seen order for equal scores, and handles empty lists', () => {
    expect(fuseRanks([fts('lex', ['P']), fts('lex', []), fts('lex', ['Q'])]).map((n) => n.path)).toEqual(['P', 'Q']);
    expect(fuseRanks([])).toEqual([]);
  });

  it('leaves a single list in its own order', () => {
    const paths = Array.from({ length: 20 }, (_, i) => `n${i}`);
    expect(fuseRanks([fts('original', paths)]).map((n) => n.path)).toEqual(paths);
  });
});

describe('mergeByBestScore (QMD vsearch)', () => {
  it('keeps each note at its best similarity, best first', () => {
    const merged = mergeByBestScore([
      [{ path: 'A', score: 0.9 }, { path: 'B', score: 0.5 }],
      [{ path: 'B', score: 0.95 }, { path: 'C', score: 0.1 }],
    ]);
    expect(merged).toEqual([{ path: 'B', score: 0.95 }, { path: 'A', score: 0.9 }, { path: 'C', score: 0.1 }]);
  });
});
