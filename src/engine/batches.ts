// Tokenized examples → fixed-shape micro-batches for the train-step graph.
// Shapes are bucketed (sequence length and number of loss positions) so a WebGPU session
// compiles its shaders once per bucket rather than once per step.
import { END_OF_TEXT, type TokenizedExample } from './tokenizer.ts';

export interface TrainBatch {
  /** Rows × bucketed length. */
  batch: number;
  length: number;
  /** [batch·length] token ids, right-padded with <|endoftext|>. */
  ids: number[];
  /** [positions] flat index b·length + t of each position whose next token is scored (padded with 0). */
  lossIndex: number[];
  /** [positions] the token expected after that position (padded with 0). */
  lossTarget: number[];
  /** [positions] 1 for a real loss position, 0 for bucket padding. */
  lossWeight: number[];
  /** Real loss positions (sum of lossWeight). */
  tokens: number;
  /**
   * [positions] the weight of each position's cross-entropy in the train step's weighted mean, when
   * it is not lossWeight: GRPO's signed per-token weights (grpo-step.ts), whose positions are still
   * selected by lossWeight (a zero-weight position selects no hidden state).
   */
  tokenWeights?: number[];
}

/**
 * The loss positions a batch with `tokens` scored ones is padded to: powers of two from 16 to 64,
 * then multiples of 64 (16, 32, 64, 128, 192, …). The loss head's cost grows with the positions
 * (at a tiny model it is most of a step), so short rows keep a small bucket; past 64 a step of 64
 * keeps the number of graph shapes small at real scale (4 rows × ~80 scored tokens: 320 → 384).
 */
export function lossPositions(tokens: number): number {
  if (tokens > 64) return Math.ceil(tokens / 64) * 64;
  let positions = 16;
  while (positions < tokens) positions *= 2;
  return positions;
}

/** The smallest bucket ≥ n: powers of two from 16, capped at `max`. */
export function bucket(n: number, max: number): number {
  let b = 16;
  while (b < n) b *= 2;
  return Math.min(b, Math.max(max, n));
}

/** A row as the train step sees it: cut to maxLength, with 1 where the loss scores the token. */
function cut(e: TokenizedExample, options: BatchOptions): { ids: number[]; scored: number[] } {
  return {
    ids: e.ids.slice(0, options.maxLength),
    scored: (options.lossOn === 'all' ? e.ids.map(() => 1) : e.completionMask).slice(0, options.maxLength),
  };
}

export interface BatchOptions {
  maxLength: number;
  lossOn: 'completion' | 'all';
}

/** Tokens of `example` the loss scores once it is cut to maxLength: 0 when its prompt alone fills it. */
export function scoredTokens(example: TokenizedExample, options: BatchOptions): number {
  const { scored } = cut(example, options);
  let n = 0;
  for (let t = 1; t < scored.length; t++) n += scored[t] === 1 ? 1 : 0;
  return n;
}

/**
 * Right padding needs no key mask: a real token only attends to earlier positions, which are
 * all real, and padded positions are never scored.
 */
export function makeBatch(
  examples: readonly TokenizedExample[],
  options: BatchOptions,
): TrainBatch {
  if (examples.length === 0) throw new Error('makeBatch: no examples');
  const rows = examples.map((e) => cut(e, options));
  const length = bucket(Math.max(...rows.map((r) => r.ids.length)), options.maxLength);
  const ids: number[] = [];
  const lossIndex: number[] = [];
  const lossTarget: number[] = [];
  rows.forEach((row, b) => {
    for (let t = 0; t < length; t++) ids.push(row.ids[t] ?? END_OF_TEXT);
    for (let t = 0; t + 1 < row.ids.length; t++) {
      if (row.scored[t + 1] !== 1) continue;
      lossIndex.push(b * length + t);
      lossTarget.push(row.ids[t + 1]!);
    }
  });
  const tokens = lossIndex.length;
  // sftExamples leaves such rows out first (and lists them); this guards other callers.
  if (tokens === 0) throw new Error('makeBatch: no scored token in the batch (all completions truncated away?)');
  const positions = lossPositions(tokens);
  const lossWeight = lossIndex.map(() => 1);
  while (lossIndex.length < positions) {
    lossIndex.push(0);
    lossTarget.push(0);
    lossWeight.push(0);
  }
  return { batch: rows.length, length, ids, lossIndex, lossTarget, lossWeight, tokens };
}

/**
 * The rows of one batch as micro-batches of at most `maxTokens` rows × padded length each, in
 * row order (a row longer than that alone runs alone); 0 or absent: the whole batch as one.
 */
export function splitBatch(examples: readonly TokenizedExample[], options: BatchOptions, maxTokens = 0): TrainBatch[] {
  if (!maxTokens) return [makeBatch(examples, options)];
  const paddedLength = (rows: readonly TokenizedExample[]) => bucket(Math.max(...rows.map((r) => Math.min(r.ids.length, options.maxLength))), options.maxLength);
  const batches: TrainBatch[] = [];
  let group: TokenizedExample[] = [];
  for (const example of examples) {
    const next = [...group, example];
    if (group.length > 0 && next.length * paddedLength(next) > maxTokens) {
      batches.push(makeBatch(group, options));
      group = [example];
    } else group = next;
  }
  batches.push(makeBatch(group, options));
  return batches;
}
