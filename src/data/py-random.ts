// Python's `random` module, the parts QMD's dataset/prepare_data.py uses: `random.seed(n)` then
// `random.shuffle(rows)` (CPython 3 Modules/_randommodule.c and Lib/random.py): MT19937 seeded
// with init_by_array over the seed's 32-bit words, and Fisher–Yates drawing each index by
// `_randbelow_with_getrandbits`. Same seed and length → the same order as Python, so an export
// holds out the rows prepare_data.py would (checked against scripts/reference/hf_split.py).

const N = 624;
const M = 397;

export class PythonRandom {
  private readonly mt = new Uint32Array(N);
  private index = N + 1;

  /** `random.seed(seed)` for a whole number (CPython takes |seed| as little-endian 32-bit words). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new Error(`PythonRandom: seed ${seed} must be a whole number`);
    let rest = Math.abs(seed);
    const key: number[] = [];
    do {
      key.push(rest % 2 ** 32);
      rest = Math.floor(rest / 2 ** 32);
    } while (rest > 0);
    this.initByArray(key);
  }

  private initGenrand(s: number): void {
    const mt = this.mt;
    mt[0] = s >>> 0;
    for (let i = 1; i < N; i++) mt[i] = (Math.imul(1812433253, mt[i - 1]! ^ (mt[i - 1]! >>> 30)) + i) >>> 0;
    this.index = N;
  }

  private initByArray(key: readonly number[]): void {
    const mt = this.mt;
    this.initGenrand(19650218);
    let i = 1;
    let j = 0;
    for (let k = Math.max(N, key.length); k > 0; k--) {
      mt[i] = ((mt[i]! ^ Math.imul(mt[i - 1]! ^ (mt[i - 1]! >>> 30), 1664525)) + key[j]! + j) >>> 0;
      i++;
      j++;
      if (i >= N) {
        mt[0] = mt[N - 1]!;
        i = 1;
      }
      if (j >= key.length) j = 0;
    }
    for (let k = N - 1; k > 0; k--) {
      mt[i] = ((mt[i]! ^ Math.imul(mt[i - 1]! ^ (mt[i - 1]! >>> 30), 1566083941)) - i) >>> 0;
      i++;
      if (i >= N) {
        mt[0] = mt[N - 1]!;
        i = 1;
      }
    }
    mt[0] = 0x80000000;
  }

  /** genrand_uint32: the next tempered 32-bit output. */
  uint32(): number {
    const mt = this.mt;
    if (this.index >= N) {
      for (let k = 0; k < N; k++) {
        const y = (mt[k]! & 0x80000000) | (mt[(k + 1) % N]! & 0x7fffffff);
        mt[k] = mt[(k + M) % N]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      this.index = 0;
    }
    let y = mt[this.index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** `_randbelow(n)`: rejection sampling over getrandbits(n.bit_length()), for 1 ≤ n < 2³². */
  below(n: number): number {
    const bits = 32 - Math.clz32(n);
    let r = this.uint32() >>> (32 - bits);
    while (r >= n) r = this.uint32() >>> (32 - bits);
    return r;
  }

  /** `random.shuffle(items)` in place. */
  shuffle<T>(items: T[]): T[] {
    if (items.length >= 2 ** 32) throw new Error(`PythonRandom.shuffle: ${items.length} items is over 2^32`);
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}
