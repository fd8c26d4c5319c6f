// The train/eval split of QMD's Python trainer, row for row: Hugging Face datasets'
// `Dataset.shuffle(seed)` and `Dataset.train_test_split(test_size, seed)` both draw
// `np.random.default_rng(seed).permutation(n)`. So this is numpy's SeedSequence → PCG64 (XSL-RR
// 128/64) → Generator.shuffle, exactly (numpy/random/bit_generator.pyx, _pcg64.pyx, pcg64.h,
// _generator.pyx `_shuffle_raw`, distributions.c `random_interval`), checked against the orders
// scripts/reference/hf_split.py writes. BigInt carries the 128-bit state: a few µs per row.

const MASK32 = 0xffffffffn;
const MASK64 = (1n << 64n) - 1n;
const MASK128 = (1n << 128n) - 1n;
// PCG_DEFAULT_MULTIPLIER_128 (pcg64.h).
const PCG_MULTIPLIER = (2549297995355413924n << 64n) | 4865540595714422341n;

// SeedSequence's hash constants (bit_generator.pyx).
const INIT_A = 0x43b0d7e5;
const MULT_A = 0x931e8875;
const INIT_B = 0x8b51f9dd;
const MULT_B = 0x58f38ded;
const MIX_MULT_L = 0xca01f9dd;
const MIX_MULT_R = 0x4973f715;
const POOL_SIZE = 4;

/** SeedSequence(seed).generate_state(words, uint32) for a seed in [0, 2³²) (one entropy word, no spawn key). */
function seedSequenceState(seed: number, words: number): number[] {
  let hashA = INIT_A;
  const hashmix = (value: number) => {
    value = (value ^ hashA) >>> 0;
    hashA = Math.imul(hashA, MULT_A) >>> 0;
    value = Math.imul(value, hashA) >>> 0;
    return (value ^ (value >>> 16)) >>> 0;
  };
  const mix = (x: number, y: number) => {
    const r = (Math.imul(MIX_MULT_L, x) - Math.imul(MIX_MULT_R, y)) >>> 0;
    return (r ^ (r >>> 16)) >>> 0;
  };
  const entropy = [seed >>> 0];
  const pool = Array.from({ length: POOL_SIZE }, (_, i) => hashmix(entropy[i] ?? 0));
  for (let src = 0; src < POOL_SIZE; src++) {
    for (let dst = 0; dst < POOL_SIZE; dst++) if (src !== dst) pool[dst] = mix(pool[dst]!, hashmix(pool[src]!));
  }
  let hashB = INIT_B;
  return Array.from({ length: words }, (_, i) => {
    let value = (pool[i % POOL_SIZE]! ^ hashB) >>> 0;
    hashB = Math.imul(hashB, MULT_B) >>> 0;
    value = Math.imul(value, hashB) >>> 0;
    return (value ^ (value >>> 16)) >>> 0;
  });
}

/** numpy's PCG64 bit generator with the buffered 32-bit draws Generator uses. */
export class Pcg64 {
  private state = 0n;
  private readonly increment: bigint;
  private spare: number | null = null;

  /** `np.random.PCG64(seed)` / `default_rng(seed)` for a seed in [0, 2³²). */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new Error(`Pcg64: seed ${seed} must be an integer in [0, 2^32)`);
    // generate_state(4, uint64): little-endian pairs of words; [0] is the high half of the state.
    const w = seedSequenceState(seed, 8).map(BigInt);
    const word64 = (i: number) => (w[2 * i + 1]! << 32n) | w[2 * i]!;
    const initState = (word64(0) << 64n) | word64(1);
    const initSeq = (word64(2) << 64n) | word64(3);
    this.increment = ((initSeq << 1n) | 1n) & MASK128;
    this.step();
    this.state = (this.state + initState) & MASK128;
    this.step();
  }

  private step(): void {
    this.state = (this.state * PCG_MULTIPLIER + this.increment) & MASK128;
  }

  /** `random_raw()`: step, then the XSL-RR output of the new state. */
  next64(): bigint {
    this.step();
    const xored = ((this.state >> 64n) ^ this.state) & MASK64;
    const rot = this.state >> 122n;
    return ((xored >> rot) | (xored << ((64n - rot) & 63n))) & MASK64;
  }

  /** `next_uint32`: the low half of a 64-bit draw, then its high half. */
  next32(): number {
    if (this.spare !== null) {
      const spare = this.spare;
      this.spare = null;
      return spare;
    }
    const next = this.next64();
    this.spare = Number(next >> 32n);
    return Number(next & MASK32);
  }

  /** `random_interval(max)`: a value in [0, max] by masked rejection, for max < 2³². */
  interval(max: number): number {
    if (max === 0) return 0;
    const mask = 2 ** (32 - Math.clz32(max)) - 1;
    let value: number;
    do value = (this.next32() & mask) >>> 0;
    while (value > max);
    return value;
  }
}

/** `np.random.default_rng(seed).permutation(n)`. */
export function numpyPermutation(n: number, seed: number): number[] {
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** 32) throw new Error(`numpyPermutation: length ${n} must be an integer in [0, 2^32)`);
  const rng = new Pcg64(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i >= 1; i--) {
    const j = rng.interval(i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** A split as datasets returns it: row indexes of the input, each part in the order it yields its rows. */
export interface HfSplit {
  train: number[];
  test: number[];
}

/**
 * `Dataset.train_test_split(test_size, seed)` of `n` rows: ⌈test_size·n⌉ test rows, the first of
 * the permutation; with `shuffleFirst`, of `Dataset.shuffle(seed)` first, as QMD's train.py does.
 */
export function hfTrainTestSplit(n: number, testSize: number, seed: number, { shuffleFirst = false } = {}): HfSplit {
  if (!(testSize > 0 && testSize < 1)) throw new Error(`hfTrainTestSplit: test_size ${testSize} must be in (0, 1), as datasets requires`);
  const nTest = Math.ceil(testSize * n);
  if (n - nTest <= 0) throw new Error(`hfTrainTestSplit: ${n} rows at test_size ${testSize} leave no train row`);
  const rows = shuffleFirst ? numpyPermutation(n, seed) : Array.from({ length: n }, (_, i) => i);
  const order = numpyPermutation(n, seed).map((i) => rows[i]!);
  return { test: order.slice(0, nTest), train: order.slice(nTest) };
}
