// Embeddings for vector search: what an embedding model is asked (QMD's prompt formats, tobi/qmd
// src/llm.ts formatQueryForEmbedding / formatDocForEmbedding) and how vectors are compared.

/** Weight formats of transformers.js ONNX exports we load (onnx/model.onnx, model_quantized, model_q4). */
export const EMBEDDING_DTYPES = ['fp32', 'q8', 'q4'] as const;
export type EmbeddingDtype = (typeof EMBEDDING_DTYPES)[number];

/** Turns texts into vectors; `model` keys the embedding cache and picks QMD's prompt format. */
export interface Embedder {
  readonly model: string;
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}

/** QMD's test for the Qwen3-Embedding family, which takes another prompt format. */
export const isQwen3EmbeddingModel = (model: string): boolean => /qwen.*embed/i.test(model) || /embed.*qwen/i.test(model);

export function formatQueryForEmbedding(model: string, query: string): string {
  if (isQwen3EmbeddingModel(model)) return `Instruct: Retrieve relevant documents for the given query\nQuery: ${query}`;
  return `task: search result | query: ${query}`;
}

export function formatDocumentForEmbedding(model: string, text: string, title: string): string {
  if (isQwen3EmbeddingModel(model)) return title ? `${title}\n${text}` : text;
  return `title: ${title || 'none'} | text: ${text}`;
}

/** Cosine similarity (1 − QMD's cosine distance); 0 against a zero vector. */
export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`cosine similarity of vectors of ${a.length} and ${b.length} dimensions`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}
