// Human words for stored enum values.
import type { DatasetMeta, RowFormat, ValidationSplit } from '../data/db.ts';

export const FORMAT_LABELS: Record<RowFormat, string> = {
  structured: 'structured',
  input_output: 'input/output',
  messages: 'messages',
  prompt_completion: 'prompt/completion',
  text: 'text',
};

/** "input/output 5,730" for the formats present, in a fixed order. */
export function formatCounts(formats: Partial<Record<RowFormat, number>>): string {
  const present = (Object.keys(FORMAT_LABELS) as RowFormat[]).filter((f) => (formats[f] ?? 0) > 0);
  return present.length === 0 ? '—' : present.map((f) => `${FORMAT_LABELS[f]} ${formats[f]!.toLocaleString('en-US')}`).join(', ');
}

/** A dataset's validation split in words: "10 %, seed 42" (", as QMD's trainer draws it" for that rule), or "none" at ratio 0. */
export function formatValidation({ ratio, seed, rule }: ValidationSplit): string {
  if (ratio === 0) return 'none';
  return `${Number((ratio * 100).toFixed(2))} %, seed ${seed}${rule === 'qmd-trainer' ? ", as QMD's trainer draws it" : ''}`;
}

/** What a dataset's validation part is called wherever it is offered as a query set. */
export const validationPartName = (dataset: Pick<DatasetMeta, 'name'>): string => `${dataset.name} — validation part`;

/** "1 row", "5,730 rows". */
export const rowCount = (n: number): string => `${n.toLocaleString('en-US')} row${n === 1 ? '' : 's'}`;
