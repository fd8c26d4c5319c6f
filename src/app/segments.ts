// Splits a line into plain and highlighted runs, so a component can wrap the entity
// mentions in <mark> with text interpolation only (the text is untrusted: never HTML).

export interface Segment {
  text: string;
  marked: boolean;
}

/** `spans` are sorted, non-overlapping [start, end) UTF-16 offsets into `text`. */
export function segments(text: string, spans: readonly (readonly [number, number])[]): Segment[] {
  const out: Segment[] = [];
  let at = 0;
  for (const [start, end] of spans) {
    if (start > at) out.push({ text: text.slice(at, start), marked: false });
    if (end > start) out.push({ text: text.slice(start, end), marked: true });
    at = Math.max(at, end);
  }
  if (at < text.length || out.length === 0) out.push({ text: text.slice(at), marked: false });
  return out;
}

/** The eval profile's rating thresholds, applied to any 0–100 score (the reward has no rating of its own). */
export function ratingOf(percent: number): 'Excellent' | 'Good' | 'Acceptable' | 'Poor' | 'Failed' {
  if (percent >= 80) return 'Excellent';
  if (percent >= 60) return 'Good';
  if (percent >= 40) return 'Acceptable';
  if (percent >= 20) return 'Poor';
  return 'Failed';
}
