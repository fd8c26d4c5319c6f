// numpy's PCG64 permutation, Hugging Face datasets' split and Python's random.shuffle against the
// orders scripts/reference/hf_split.py wrote with numpy 2.4.6, datasets 5.0.1 and CPython 3.11.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fixture from './hf-split.fixture.json';
import { hfTrainTestSplit, numpyPermutation, Pcg64 } from './hf-split.ts';
import { PythonRandom } from './py-random.ts';

const digest = (values: readonly number[]) => createHash('sha256').update(values.join(',')).digest('hex');

describe('numpy PCG64', () => {
  it('draws the raw 64-bit outputs of np.random.PCG64(42)', () => {
    const rng = new Pcg64(42);
    expect(fixture.pcg64_seed42_random_raw.map(() => String(rng.next64()))).toEqual(fixture.pcg64_seed42_random_raw);
  });

  it.each(fixture.numpy_permutations.map((p) => [p.seed, p.n, p.permutation] as const))('default_rng(%i).permutation(%i)', (seed, n, permutation) => {
    expect(numpyPermutation(n, seed)).toEqual(permutation);
  });

  it('refuses seeds it does not implement rather than alias them', () => {
    expect(() => new Pcg64(2 ** 32)).toThrow('Pcg64: seed 4294967296 must be an integer in [0, 2^32)');
    expect(() => new Pcg64(-1)).toThrow(/seed -1/);
  });
});

describe("Hugging Face train_test_split, with and without QMD's shuffle first", () => {
  it.each(fixture.hf_splits.map((s) => [s.n, s.test_size, s.seed, s.shuffle_first, s] as const))('%i rows, test_size %f, seed %i, shuffle first: %s', (n, testSize, seed, shuffleFirst, expected) => {
    expect(hfTrainTestSplit(n, testSize, seed, { shuffleFirst })).toEqual({ train: expected.train, test: expected.test });
  });

  it.each(fixture.hf_splits_large.map((s) => [s.n, s.shuffle_first, s] as const))('%i rows (shuffle first: %s) hold out the rows the Python run held out', (n, shuffleFirst, expected) => {
    const split = hfTrainTestSplit(n, expected.test_size, expected.seed, { shuffleFirst });
    expect(split.test.slice(0, 16)).toEqual(expected.test_first);
    expect(split.train.slice(0, 16)).toEqual(expected.train_first);
    expect(digest(split.test)).toBe(expected.test_sha256);
    expect(digest(split.train)).toBe(expected.train_sha256);
  });

  it('refuses what datasets refuses', () => {
    expect(() => hfTrainTestSplit(10, 0, 42)).toThrow('test_size 0 must be in (0, 1)');
    expect(() => hfTrainTestSplit(1, 0.5, 42)).toThrow('1 rows at test_size 0.5 leave no train row');
  });
});

describe("Python's random.seed + random.shuffle (prepare_data.py)", () => {
  it.each(fixture.python_shuffles.map((s) => [s.seed, s.n, s.order] as const))('random.seed(%i); shuffle(range(%i))', (seed, n, order) => {
    expect(new PythonRandom(seed).shuffle(Array.from({ length: n }, (_, i) => i))).toEqual(order);
  });

  it('shuffles 5,730 rows as Python does', () => {
    const { seed, n, first, sha256 } = fixture.python_shuffle_large;
    const order = new PythonRandom(seed).shuffle(Array.from({ length: n }, (_, i) => i));
    expect(order.slice(0, 16)).toEqual(first);
    expect(digest(order)).toBe(sha256);
  });
});
