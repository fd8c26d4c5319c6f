// Retrieval metrics over the rank of each query's expected note (1-based; null when the note is
// not in the ranked list at all), as QMD's eval counts them: hit@k is the share of queries whose
// note is within the first k, MRR the mean of 1/rank (0 for a miss).

export interface RetrievalSummary {
  queries: number;
  hit1: number;
  hit3: number;
  hit5: number;
  mrr: number;
}

export function summarizeRanks(ranks: readonly (number | null)[]): RetrievalSummary {
  const n = ranks.length;
  const share = (k: number) => (n === 0 ? 0 : ranks.filter((r) => r !== null && r <= k).length / n);
  const mrr = n === 0 ? 0 : ranks.reduce<number>((sum, r) => sum + (r === null ? 0 : 1 / r), 0) / n;
  return { queries: n, hit1: share(1), hit3: share(3), hit5: share(5), mrr };
}

/**
 * QMD's match rule: a note is the expected one when its path, lower-cased, contains the
 * expected name lower-cased (`api-design` finds `docs/api-design-principles.md`).
 */
export function isExpectedNote(path: string, expected: string): boolean {
  return path.toLowerCase().includes(expected.toLowerCase());
}

/** 1-based rank of the first expected note in `paths`, or null. */
export function rankOf(paths: readonly string[], expected: string): number | null {
  const index = paths.findIndex((p) => isExpectedNote(p, expected));
  return index < 0 ? null : index + 1;
}
