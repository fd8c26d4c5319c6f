// The seeded tiny models both transformers.js export tests (plain and q4 / q4f16 layouts) run on:
// tied embeddings with GQA 2:1, and an untied head with GQA 3:1 whose heads·head_dim is not hidden.
import type { TinyModelOptions } from '../../scripts/make-tiny-model.ts';

export const EXPORT_CASES = [
  ['tied, GQA 2:1', { seed: 31 }],
  ['untied, GQA 3:1, heads·head_dim ≠ hidden', { seed: 32, heads: 6, kvHeads: 2, headDim: 16, intermediate: 96, untied: true }],
] satisfies Array<[string, TinyModelOptions]>;

/** A case's folder name under the test's temporary directory. */
export const caseFolder = (name: string): string => name.split(',')[0]!.replace(/\W+/g, '-');
