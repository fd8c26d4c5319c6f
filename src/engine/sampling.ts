// Next-token choice from last-position logits: greedy, or temperature → top-k → top-p with
// a seeded PRNG so a (seed, settings) pair always yields the same expansion.
import { defaultSamplingRequest } from './protocol.ts';
import { STOP_TOKENS } from './tokenizer.ts';

export interface SamplingOptions {
  /** Argmax; temperature, top-k and top-p are ignored. */
  readonly greedy: boolean;
  readonly temperature: number;
  /** Keep the k most likely tokens; 0 keeps all. */
  readonly topK: number;
  /** Keep the smallest set of tokens whose probability reaches p; 1 keeps all. */
  readonly topP: number;
  readonly seed: number;
  readonly maxNewTokens: number;
  readonly stopTokens: readonly number[];
}

/** The Python eval's settings (protocol.ts), stopping on <|im_end|> / <|endoftext|>. */
export const defaultSampling: SamplingOptions = { ...defaultSamplingRequest, stopTokens: STOP_TOKENS };

export function validateSampling(o: SamplingOptions): SamplingOptions {
  const fail = (field: string, want: string, got: number) => {
    throw new Error(`sampling ${field}: expected ${want}, got ${got}`);
  };
  if (!o.greedy && !(o.temperature > 0)) fail('temperature', '> 0 (or greedy)', o.temperature);
  if (!Number.isInteger(o.topK) || o.topK < 0) fail('topK', 'an integer ≥ 0', o.topK);
  if (!(o.topP > 0 && o.topP <= 1)) fail('topP', 'in (0, 1]', o.topP);
  if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 1) fail('maxNewTokens', 'an integer ≥ 1', o.maxNewTokens);
  if (!Number.isInteger(o.seed)) fail('seed', 'an integer', o.seed);
  return o;
}

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/**
 * The candidate tokens and their normalized probabilities after temperature, top-k and top-p, in
 * order of logit (ties by id: a stable sort's order), or every id in id order when neither cuts. Sorting all 151,936 ids cost 83 ms a token
 * (Node 20): top-k keeps its k in one pass instead, top-p sorts only the tokens it could keep.
 */
export function candidates(logits: ArrayLike<number>, o: SamplingOptions): { ids: number[]; probs: number[] } {
  const top = logits[argmax(logits)]!;
  const weight = (i: number) => Math.exp((logits[i]! - top) / o.temperature);
  let ids: number[];
  let total: number;
  if (o.topK > 0) {
    ids = topIds(logits, o.topK);
    total = ids.reduce((sum, i) => sum + weight(i), 0);
  } else {
    const weights = Float64Array.from({ length: logits.length }, (_, i) => weight(i));
    total = weights.reduce((a, b) => a + b, 0);
    // Below this weight a token's whole class holds less than 1 − p of the mass, so the smallest
    // prefix reaching p lies among the tokens at or above it (all of them when p is 1).
    const floor = o.topP < 1 ? ((1 - o.topP) * total) / (2 * logits.length) : 0;
    ids = [];
    for (let i = 0; i < logits.length; i++) if (weights[i]! >= floor) ids.push(i);
    if (o.topP < 1) ids.sort((a, b) => logits[b]! - logits[a]!);
  }
  let probs = ids.map((i) => weight(i) / total);
  if (o.topP < 1) {
    let mass = 0;
    let keep = 0;
    while (keep < probs.length && mass < o.topP) mass += probs[keep++]!;
    ids = ids.slice(0, keep);
    probs = probs.slice(0, keep).map((p) => p / mass);
  }
  return { ids, probs };
}

/** The k ids of the largest logits, largest first, ties by id: one pass over the logits, a sorted insert only for an id that beats the k-th. */
export function topIds(logits: ArrayLike<number>, k: number): number[] {
  const kept: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    const z = logits[i]!;
    if (kept.length === k && !(z > logits[kept[k - 1]!]!)) continue;
    // After every kept id of a logit ≥ z: an equal logit came first, so it stays first.
    let at = kept.length;
    while (at > 0 && logits[kept[at - 1]!]! < z) at--;
    kept.splice(at, 0, i);
    if (kept.length > k) kept.pop();
  }
  return kept;
}

export function sampleToken(logits: ArrayLike<number>, o: SamplingOptions, rng: () => number): number {
  if (o.greedy) return argmax(logits);
  if (o.topK === 0 && o.topP === 1) return sampleAll(logits, o.temperature, rng);
  const { ids, probs } = candidates(logits, o);
  let u = rng();
  for (let i = 0; i < ids.length; i++) {
    u -= probs[i]!;
    if (u < 0) return ids[i]!;
  }
  return ids[ids.length - 1]!;
}

/**
 * sampleToken over the whole vocabulary without candidates()' id and probability lists (three
 * arrays of 151,936 numbers per token cost more than a tiny model's forward): the same operations
 * in the same order, so the same token for the same draw.
 */
function sampleAll(logits: ArrayLike<number>, temperature: number, rng: () => number): number {
  const top = logits[argmax(logits)]!;
  const weights = new Float64Array(logits.length);
  let total = 0;
  for (let i = 0; i < logits.length; i++) total += weights[i] = Math.exp((logits[i]! - top) / temperature);
  let u = rng();
  for (let i = 0; i < logits.length; i++) {
    u -= weights[i]! / total;
    if (u < 0) return i;
  }
  return logits.length - 1;
}

/** Drops a leading `<think>…</think>` block (Qwen3's reasoning) so only the expansion is scored. */
export function stripThink(text: string): string {
  const match = /^\s*<think>[\s\S]*?<\/think>\s*/.exec(text);
  return match ? text.slice(match[0].length) : text;
}
