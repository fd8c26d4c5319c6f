import { describe, expect, it } from 'vitest';
import { shuffled } from './random.ts';

describe('shuffled', () => {
  it('is a seeded permutation: the same seed gives the same order, another seed another', () => {
    const order = shuffled(50, 42);
    expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(shuffled(50, 42)).toEqual(order);
    expect(shuffled(50, 43)).not.toEqual(order);
  });
});
