// Human words for stored enum values.
import type { RowFormat } from '../data/db.ts';

export const FORMAT_LABELS: Record<RowFormat, string> = {
  input_output: 'input/output',
  messages: 'messages',
  prompt_completion: 'prompt/completion',
  text: 'text',
};

/** "input/output 5,730" for the formats present, in a fixed order. */
export function formatCounts(formats: Record<RowFormat, number>): string {
  const present = (Object.keys(FORMAT_LABELS) as RowFormat[]).filter((f) => formats[f] > 0);
  return present.length === 0 ? '—' : present.map((f) => `${FORMAT_LABELS[f]} ${formats[f].toLocaleString('en-US')}`).join(', ');
}
