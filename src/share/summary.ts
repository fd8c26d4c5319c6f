// Headline numbers of a result and the per-query comparison of two results.
import type { EvalResult, ResultItem } from '../data/db.ts';
import type { Rating } from '../scoring/index.ts';

export const RATINGS: readonly Rating[] = ['Excellent', 'Good', 'Acceptable', 'Poor', 'Failed'];

export interface ResultSummary {
  count: number;
  /** Mean of the items' eval percentages (0–100); null without items. */
  evalPercentage: number | null;
  /** Mean of the items' rewards (0–1); null without items. */
  reward: number | null;
  ratings: Record<Rating, number>;
}

function mean(values: number[]): number | null {
  return values.length === 0 ? null : values.reduce((sum, v) => sum + v, 0) / values.length;
}

export function summarizeResult(result: EvalResult): ResultSummary {
  const ratings = Object.fromEntries(RATINGS.map((r) => [r, 0])) as Record<Rating, number>;
  for (const item of result.items) ratings[item.eval.rating] += 1;
  return {
    count: result.items.length,
    evalPercentage: mean(result.items.map((item) => item.eval.percentage)),
    reward: mean(result.items.map((item) => item.reward.reward)),
    ratings,
  };
}

/** "98.8 %" — the precision the Python eval report prints. */
export function formatPercentage(percentage: number | null): string {
  return percentage === null ? '–' : `${percentage.toFixed(1)} %`;
}

export interface QueryComparison {
  query: string;
  a: ResultItem;
  b: ResultItem;
  /** b − a, in percentage points. */
  evalDelta: number;
  /** b − a. */
  rewardDelta: number;
}

export interface ResultComparison {
  /** In the order of `a`. */
  matched: QueryComparison[];
  onlyInA: ResultItem[];
  onlyInB: ResultItem[];
}

/**
 * Pairs items by query text: the k-th occurrence of a query in `a` meets the k-th
 * occurrence in `b`, so results with several samples per query line up sample by sample.
 */
export function compareResults(a: EvalResult, b: EvalResult): ResultComparison {
  const waiting = new Map<string, number[]>();
  b.items.forEach((item, i) => {
    const queue = waiting.get(item.query);
    if (queue) queue.push(i);
    else waiting.set(item.query, [i]);
  });
  const used = new Set<number>();
  const matched: QueryComparison[] = [];
  const onlyInA: ResultItem[] = [];
  for (const itemA of a.items) {
    const j = waiting.get(itemA.query)?.shift();
    if (j === undefined) {
      onlyInA.push(itemA);
      continue;
    }
    used.add(j);
    const itemB = b.items[j];
    matched.push({
      query: itemA.query,
      a: itemA,
      b: itemB,
      evalDelta: itemB.eval.percentage - itemA.eval.percentage,
      rewardDelta: itemB.reward.reward - itemA.reward.reward,
    });
  }
  return { matched, onlyInA, onlyInB: b.items.filter((_, j) => !used.has(j)) };
}
