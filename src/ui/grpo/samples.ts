// The rows of a GRPO step's sample table: every completion of every group with its reward
// breakdown, and the filter the table offers (a reward range, hard fails only). Completions are
// model output: the table renders them as text.
import type { GrpoCompletion, GrpoGroup } from '../../engine/grpo-protocol.ts';

export interface SampleRow extends GrpoCompletion {
  /** 0-based group (prompt) within the step, and completion within the group. */
  group: number;
  index: number;
  query: string;
}

export interface SampleFilter {
  /** Rewards below `min` or above `max` are left out; null: no bound. */
  min: number | null;
  max: number | null;
  hardFailsOnly: boolean;
}

export const NO_FILTER: Readonly<SampleFilter> = Object.freeze({ min: null, max: null, hardFailsOnly: false });

export function sampleRows(groups: readonly GrpoGroup[]): SampleRow[] {
  return groups.flatMap((g, group) => g.completions.map((c, index) => ({ ...c, group, index, query: g.query })));
}

export function filterSamples(rows: readonly SampleRow[], f: SampleFilter): SampleRow[] {
  return rows.filter((r) => (f.min === null || r.reward >= f.min) && (f.max === null || r.reward <= f.max) && (!f.hardFailsOnly || r.hardFail));
}

/** A bound as a number input gives it: empty (null) or anything but a finite number is no bound. */
export const readBound = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);
