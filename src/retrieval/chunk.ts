// Notes cut into embedding chunks by QMD's character chunker (tobi/qmd src/store.ts,
// chunkDocument: 900-token chunks with 15 % overlap at ~4 characters a token). A chunk ends at
// the best markdown break in the 800 characters before its 3,600-character target: each break
// kind has a score (a heading beats a code fence, a rule, a paragraph, a list item, a newline),
// discounted by the square of its distance from the target (at the window's start, 30 % is left),
// never inside a code fence and never between the two halves of a surrogate pair. The next chunk
// starts 540 characters before the cut.

export const CHUNK_CHARS = 900 * 4;
export const CHUNK_OVERLAP_CHARS = Math.floor(900 * 0.15) * 4;
export const CHUNK_WINDOW_CHARS = 200 * 4;
const DECAY = 0.7;

export interface Chunk {
  text: string;
  /** Offset of the chunk in the note (UTF-16 units). */
  pos: number;
}

interface BreakPoint {
  pos: number;
  score: number;
}

/** Break kinds, highest score first where several match at one position. */
const BREAKS: readonly [RegExp, number][] = [
  [/\n#(?!#)/g, 100],
  [/\n##(?!#)/g, 90],
  [/\n###(?!#)/g, 80],
  [/\n####(?!#)/g, 70],
  [/\n#####(?!#)/g, 60],
  [/\n######(?!#)/g, 50],
  [/\n```/g, 80],
  [/\n(?:---|\*\*\*|___)\s*\n/g, 60],
  [/\n\n+/g, 20],
  [/\n[-*]\s/g, 5],
  [/\n\d+\.\s/g, 5],
  [/\n/g, 1],
];

/** Every break position (where a pattern's match starts) with its best score, by position. */
function breakPoints(text: string): BreakPoint[] {
  const best = new Map<number, number>();
  for (const [pattern, score] of BREAKS) {
    for (const match of text.matchAll(pattern)) {
      if (score > (best.get(match.index) ?? -1)) best.set(match.index, score);
    }
  }
  return [...best].map(([pos, score]) => ({ pos, score })).sort((a, b) => a.pos - b.pos);
}

/** [start, end) spans between paired ``` lines; an unclosed fence runs to the end. */
function codeFences(text: string): [number, number][] {
  const fences: [number, number][] = [];
  let open = -1;
  for (const match of text.matchAll(/\n```/g)) {
    if (open < 0) open = match.index;
    else {
      fences.push([open, match.index + match[0].length]);
      open = -1;
    }
  }
  if (open >= 0) fences.push([open, text.length]);
  return fences;
}

/** Index of the first point at or after `pos` (points sorted by position). */
function firstPointFrom(points: readonly BreakPoint[], pos: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid]!.pos < pos) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Whether `pos` lies strictly inside one of the sorted, disjoint fences. */
function insideFence(fences: readonly [number, number][], pos: number): boolean {
  let lo = 0;
  let hi = fences.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (fences[mid]![1] <= pos) lo = mid + 1;
    else hi = mid;
  }
  const fence = fences[lo];
  return fence !== undefined && pos > fence[0] && pos < fence[1];
}

// Binary searches keep a hostile note (a break on every line, thousands of fences) linear-logarithmic.
function bestCut(points: readonly BreakPoint[], target: number, fences: readonly [number, number][]): number {
  let bestScore = -1;
  let best = target;
  for (let i = firstPointFrom(points, target - CHUNK_WINDOW_CHARS); i < points.length; i++) {
    const { pos, score } = points[i]!;
    if (pos > target) break;
    if (insideFence(fences, pos)) continue;
    const distance = (target - pos) / CHUNK_WINDOW_CHARS;
    const discounted = score * (1 - distance * distance * DECAY);
    if (discounted > bestScore) {
      bestScore = discounted;
      best = pos;
    }
  }
  return best;
}

const isHigh = (unit: number) => unit >= 0xd800 && unit <= 0xdbff;
const isLow = (unit: number) => unit >= 0xdc00 && unit <= 0xdfff;

/** `pos` moved off the middle of a surrogate pair: back one unit if that stays above `floor`, else forward. */
function offSurrogatePair(text: string, pos: number, floor: number): number {
  if (pos <= 0 || pos >= text.length || !isHigh(text.charCodeAt(pos - 1)) || !isLow(text.charCodeAt(pos))) return pos;
  return pos - 1 > floor ? pos - 1 : pos + 1;
}

/** The note's chunks in order; a note of at most CHUNK_CHARS is one chunk. */
export function chunkNote(text: string): Chunk[] {
  if (text.length <= CHUNK_CHARS) return [{ text, pos: 0 }];
  const points = breakPoints(text);
  const fences = codeFences(text);
  const chunks: Chunk[] = [];
  let start = 0;
  for (;;) {
    const target = Math.min(start + CHUNK_CHARS, text.length);
    let end = target;
    if (end < text.length) {
      const cut = bestCut(points, target, fences);
      if (cut > start && cut <= target) end = cut;
    }
    end = offSurrogatePair(text, end, start);
    chunks.push({ text: text.slice(start, end), pos: start });
    if (end >= text.length) return chunks;
    let next = end - CHUNK_OVERLAP_CHARS;
    if (next <= start) next = end;
    start = offSurrogatePair(text, next, start);
  }
}
