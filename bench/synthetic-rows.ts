// The benches' training rows, made without a tokenizer.
import type { TokenizedExample } from '../src/engine/tokenizer.ts';

/**
 * Synthetic rows: `length` tokens each, the last `completion` of them scored (as QMD SFT); the
 * same ids in bench/train_memory_torch.py.
 */
export function syntheticExamples(batch: number, length: number, completion: number): TokenizedExample[] {
  return Array.from({ length: batch }, (_, b) => {
    const ids = Array.from({ length }, (_, t) => (b * 7919 + t * 104729) % 151000);
    return { ids, completionMask: ids.map((_, t) => (t >= length - completion ? 1 : 0)) };
  });
}
