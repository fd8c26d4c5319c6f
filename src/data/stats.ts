// Dataset statistics and the quality audit: how the rows' own completions score under the
// `reward` profile, computed in one streaming pass over the store.
import { checkScorable, parseExpansion, scoreReward, ScoringLimitError, type RewardScore } from '../scoring/index.ts';
import { timeSlices } from '../slices.ts';
import type { DatasetRow, LabDatabase } from './db.ts';
import { getDataset, scanRows } from './store.ts';

/** Reward histogram buckets: [0, 0.1), [0.1, 0.2), …, [0.9, 1.0]. */
export const REWARD_BUCKETS = 10;

export interface DatasetStats {
  rows: number;
  /** Rows whose query has 1–2 words. */
  shortQueries: number;
  shortQueryShare: number;
  /** Means per row; lengths in code points. */
  meanQueryChars: number;
  meanQueryWords: number;
  meanCompletionChars: number;
  /** Parsed lines over all completions. */
  lines: { lex: number; vec: number; hyde: number; invalid: number };
  reward: {
    /** Row counts per bucket of REWARD_BUCKETS. */
    histogram: number[];
    mean: number;
    /** Completions that do not start with lex:/vec:/hyde: (reward 0). */
    hardFails: number;
    /** Rows beyond the scorers' size limits (scoring/limits.ts): counted as hard fails with reward 0. */
    refused: number;
  };
  /** Per row index: reward of the row's completion, and 1 where it is a hard fail. */
  rewards: Float64Array;
  hardFail: Uint8Array;
}

export interface StatsOptions {
  signal?: AbortSignal;
  onProgress?(progress: { rows: number; total: number }): void;
}

export async function datasetStats(db: LabDatabase, id: string, opts: StatsOptions = {}): Promise<DatasetStats> {
  const meta = await getDataset(db, id);
  if (!meta) throw new Error(`datasetStats: no dataset ${id}`);
  const rewards = new Float64Array(meta.rows);
  const hardFail = new Uint8Array(meta.rows);
  const histogram = new Array<number>(REWARD_BUCKETS).fill(0);
  const lines = { lex: 0, vec: 0, hyde: 0, invalid: 0 };
  let shortQueries = 0;
  let queryChars = 0;
  let queryWords = 0;
  let completionChars = 0;
  let rewardSum = 0;
  let hardFails = 0;
  let refused = 0;
  let seen = 0;
  const pause = timeSlices(opts.signal);
  for await (const row of scanRows(db, id)) {
    await pause();
    const words = wordCount(row.query);
    if (words <= 2) shortQueries++;
    queryWords += words;
    queryChars += codePointLength(row.query);
    completionChars += codePointLength(row.completion);
    const { score, refusal } = rowReward(row);
    if (refusal) refused++;
    else {
      const parsed = parseExpansion(row.completion);
      for (const kind of ['lex', 'vec', 'hyde', 'invalid'] as const) lines[kind] += parsed[kind].length;
    }
    rewards[row.index] = score.reward;
    if (isHardFail(score)) {
      hardFail[row.index] = 1;
      hardFails++;
    }
    rewardSum += score.reward;
    histogram[rewardBucket(score.reward)]++;
    if (++seen % 500 === 0) {
      opts.signal?.throwIfAborted();
      opts.onProgress?.({ rows: seen, total: meta.rows });
    }
  }
  opts.onProgress?.({ rows: seen, total: meta.rows });
  const mean = (sum: number) => (seen ? sum / seen : 0);
  return {
    rows: seen,
    shortQueries,
    shortQueryShare: mean(shortQueries),
    meanQueryChars: mean(queryChars),
    meanQueryWords: mean(queryWords),
    meanCompletionChars: mean(completionChars),
    lines,
    reward: { histogram, mean: mean(rewardSum), hardFails, refused },
    rewards,
    hardFail,
  };
}

export function rewardBucket(reward: number): number {
  // The epsilon keeps exact bucket edges (e.g. 36/120 = 0.3) out of the bucket below.
  return Math.min(REWARD_BUCKETS - 1, Math.floor(reward * REWARD_BUCKETS + 1e-9));
}

export function isHardFail(score: RewardScore): boolean {
  return 'hard_fail' in score;
}

export interface AuditFilter {
  /** Keep rows whose reward is below this. */
  below?: number;
  /** Keep only hard fails. */
  hardFailOnly?: boolean;
}

/** Row indexes passing the filter, worst reward first (ties in row order). */
export function auditIndexes(stats: DatasetStats, filter: AuditFilter = {}): number[] {
  const kept: number[] = [];
  for (let i = 0; i < stats.rows; i++) {
    if (filter.hardFailOnly && !stats.hardFail[i]) continue;
    if (filter.below !== undefined && !(stats.rewards[i] < filter.below)) continue;
    kept.push(i);
  }
  return kept.sort((a, b) => stats.rewards[a] - stats.rewards[b] || a - b);
}

export interface AuditedRow {
  row: DatasetRow;
  score: RewardScore;
  /** Why the scorers refused the row (its size), when they did. */
  refusal?: string;
}

/** The row's reward, or a hard fail with the reason when it is beyond the scorers' limits. */
function rowReward(row: DatasetRow): { score: RewardScore; refusal?: string } {
  try {
    checkScorable(row.query, row.completion);
  } catch (err) {
    if (err instanceof ScoringLimitError) return { score: { hard_fail: true, reward: 0 }, refusal: err.message };
    throw err;
  }
  return { score: scoreReward(row.query, row.completion) };
}

/** A page of the worst rows under `filter`, with their full reward breakdown. */
export async function worstRows(
  db: LabDatabase,
  id: string,
  stats: DatasetStats,
  { offset = 0, limit = 50, ...filter }: AuditFilter & { offset?: number; limit?: number } = {},
): Promise<{ rows: AuditedRow[]; total: number }> {
  const indexes = auditIndexes(stats, filter);
  const rows: AuditedRow[] = [];
  for (const index of indexes.slice(offset, offset + limit)) {
    const row = await db.get('rows', [id, index]);
    if (!row) throw new Error(`worstRows: dataset ${id} has no row ${index} (stats are stale)`);
    rows.push({ row, ...rowReward(row) });
  }
  return { rows, total: indexes.length };
}

function wordCount(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

function codePointLength(text: string): number {
  return Array.from(text).length;
}
