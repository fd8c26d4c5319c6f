// The one seeded PRNG behind every reproducible choice that is not model initialisation:
// dataset splits, sampling, batch shuffles and gradient-check inputs; and the one integer hash
// that turns (seed, step, micro-batch) into the keys of the train step's in-graph dropout masks.

/** mulberry32: a 32-bit PRNG, identical in every JS engine; uniform floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded permutation of 0..n−1 (Fisher–Yates driven by mulberry32). */
export function shuffled(n: number, seed: number): number[] {
  const random = mulberry32(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** murmur3's 32-bit finaliser: every input bit flips each output bit with probability ~½. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/**
 * A signed 32-bit hash of a tuple of integers (each taken mod 2³²): a counter-based key, so that
 * what it seeds is a pure function of the tuple — a resumed run recomputes it instead of storing
 * a generator's state.
 */
export function hashInts(...values: readonly number[]): number {
  return values.reduce((h, v) => fmix32((h ^ v) + 0x9e3779b9), values.length);
}
