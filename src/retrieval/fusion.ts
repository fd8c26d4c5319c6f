// Reciprocal rank fusion as QMD's hybridQuery runs it (tobi/qmd src/store.ts,
// reciprocalRankFusion + getHybridRrfWeights): each list adds weight / (k + rank + 1) to every
// note it holds (rank 0-based, k = 60); a note ranked first in any list gets +0.05, one whose
// best rank is second or third +0.02. Lists from the original query weigh 2, lists from
// expansion lines 1, whatever their order.

export const RRF_K = 60;
export const TOP_RANK_BONUS = 0.05;
export const NEAR_TOP_BONUS = 0.02;

/** Where a list's search text came from. */
export type QueryType = 'original' | 'lex' | 'vec' | 'hyde';

/** One ranked list: note paths, best first. */
export interface RankedList {
  source: 'fts' | 'vec';
  queryType: QueryType;
  /** The text searched. */
  query: string;
  paths: readonly string[];
}

export interface FusedNote {
  path: string;
  score: number;
}

export function listWeight(queryType: QueryType): number {
  return queryType === 'original' ? 2 : 1;
}

/** Notes of all lists by fused score, best first; ties keep first-seen order (as QMD's stable sort). */
export function fuseRanks(lists: readonly RankedList[], k = RRF_K): FusedNote[] {
  const fused = new Map<string, { score: number; topRank: number }>();
  for (const list of lists) {
    const weight = listWeight(list.queryType);
    list.paths.forEach((path, rank) => {
      const contribution = weight / (k + rank + 1);
      const entry = fused.get(path);
      if (entry) {
        entry.score += contribution;
        entry.topRank = Math.min(entry.topRank, rank);
      } else fused.set(path, { score: contribution, topRank: rank });
    });
  }
  const notes: FusedNote[] = [];
  for (const [path, { score, topRank }] of fused) {
    const bonus = topRank === 0 ? TOP_RANK_BONUS : topRank <= 2 ? NEAR_TOP_BONUS : 0;
    notes.push({ path, score: score + bonus });
  }
  return notes.sort((a, b) => b.score - a.score);
}

/**
 * QMD's `vsearch` merge of vector lists: each note keeps its best similarity over the lists,
 * best first (no rank fusion there).
 */
export function mergeByBestScore(lists: readonly { path: string; score: number }[][]): FusedNote[] {
  const best = new Map<string, number>();
  for (const list of lists) {
    for (const { path, score } of list) {
      const seen = best.get(path);
      if (seen === undefined || score > seen) best.set(path, score);
    }
  }
  return [...best].map(([path, score]) => ({ path, score })).sort((a, b) => b.score - a.score);
}
