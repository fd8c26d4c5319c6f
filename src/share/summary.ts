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

export type Profile = 'eval' | 'reward';
export const PROFILES: readonly Profile[] = ['eval', 'reward'];

/** How one query went for the result being looked at ("this"), against the other one. */
export type Outcome = 'win' | 'tie' | 'loss';

export interface Tally {
  wins: number;
  ties: number;
  losses: number;
}

/** "0.917": rewards are shown to three decimals throughout the page. */
export function formatReward(reward: number | null): string {
  return reward === null ? '–' : reward.toFixed(3);
}

export interface QueryComparison {
  query: string;
  a: ResultItem;
  b: ResultItem;
  /** a − b (this − other), in percentage points: positive where `a` scored higher. */
  evalDelta: number;
  /** a − b. */
  rewardDelta: number;
  outcome: Record<Profile, Outcome>;
}

export interface ResultComparison {
  /** In the order of `a`. */
  matched: QueryComparison[];
  onlyInA: ResultItem[];
  onlyInB: ResultItem[];
  /** `a`'s wins, ties and losses over the matched queries. */
  tally: Record<Profile, Tally>;
  /** Mean of the matched queries' deltas (a − b); null when no query matched. */
  meanDelta: Record<Profile, number | null>;
}

/**
 * Equal scores are bit-identical (the same points over the same maximum), so anything smaller
 * than this is float noise, never a real difference.
 */
const TIE = 1e-9;

export function outcomeOf(delta: number): Outcome {
  return delta > TIE ? 'win' : delta < -TIE ? 'loss' : 'tie';
}

/** "+1.0", "−99.0", "0.0" for a tie: the sign always agrees with the outcome. */
export function formatDelta(delta: number, digits: number): string {
  const outcome = outcomeOf(delta);
  const size = Math.abs(delta).toFixed(digits);
  return outcome === 'win' ? `+${size}` : outcome === 'loss' ? `−${size}` : (0).toFixed(digits);
}

function tally(rows: QueryComparison[], profile: Profile): Tally {
  const counts: Tally = { wins: 0, ties: 0, losses: 0 };
  for (const row of rows) {
    const outcome = row.outcome[profile];
    if (outcome === 'win') counts.wins += 1;
    else if (outcome === 'tie') counts.ties += 1;
    else counts.losses += 1;
  }
  return counts;
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
    const evalDelta = itemA.eval.percentage - itemB.eval.percentage;
    const rewardDelta = itemA.reward.reward - itemB.reward.reward;
    matched.push({
      query: itemA.query,
      a: itemA,
      b: itemB,
      evalDelta,
      rewardDelta,
      outcome: { eval: outcomeOf(evalDelta), reward: outcomeOf(rewardDelta) },
    });
  }
  return {
    matched,
    onlyInA,
    onlyInB: b.items.filter((_, j) => !used.has(j)),
    tally: { eval: tally(matched, 'eval'), reward: tally(matched, 'reward') },
    meanDelta: { eval: mean(matched.map((m) => m.evalDelta)), reward: mean(matched.map((m) => m.rewardDelta)) },
  };
}
