// Vector search over the indexed notes, as QMD's searchVec: every note cut into chunks
// (chunk.ts), each chunk embedded as `title: … | text: …`, a query embedded as
// `task: search result | query: …`; the chunks nearest by cosine similarity (3 × the limit),
// one per note at its best, the first `limit` notes. Chunk embeddings are kept in the index by
// (model, SHA-256 of the text embedded), so only new or changed chunks are embedded again.
import { chunkNote } from './chunk.ts';
import { cosineSimilarity, formatDocumentForEmbedding, formatQueryForEmbedding, type Embedder } from './embed.ts';
import type { NoteIndex } from './note-index.ts';
import { sha256Hex } from './notes.ts';
import type { Hit } from './search.ts';

/** Chunks embedded per call to the model. */
export const EMBED_BATCH = 8;

export interface EmbedProgress {
  /** Chunks with a vector so far (cached ones count at once). */
  done: number;
  total: number;
  /** Chunks the model embedded in this build (the rest came from the cache). */
  embedded: number;
}

export interface BuildOptions {
  signal?: AbortSignal;
  onProgress?: (progress: EmbedProgress) => void;
}

export class NoteVectors {
  /** Query embeddings by text: a query is searched once per variant and mode. */
  readonly #queries = new Map<string, Float32Array>();

  private constructor(
    private readonly embedder: Embedder,
    private readonly paths: readonly string[],
    private readonly vectors: readonly Float32Array[],
    /** Chunks the model embedded while building (the others were cached). */
    readonly embedded: number,
  ) {}

  /** Vectors for every chunk of every indexed note, embedding those the index has none for. */
  static async build(index: NoteIndex, embedder: Embedder, { signal, onProgress }: BuildOptions = {}): Promise<NoteVectors> {
    const { model } = embedder;
    const chunks: { path: string; key: string; text: string }[] = [];
    for (const note of index.notesWithText()) {
      for (const chunk of chunkNote(note.text)) {
        const text = formatDocumentForEmbedding(model, chunk.text, note.title);
        chunks.push({ path: note.path, key: await sha256Hex(text), text });
      }
    }
    const vectors: (Float32Array | null)[] = chunks.map((c) => index.embedding(model, c.key));
    const missing = chunks.flatMap((_, i) => (vectors[i] === null ? [i] : []));
    const progress: EmbedProgress = { done: chunks.length - missing.length, total: chunks.length, embedded: 0 };
    onProgress?.({ ...progress });
    for (let start = 0; start < missing.length; start += EMBED_BATCH) {
      signal?.throwIfAborted();
      const batch = missing.slice(start, start + EMBED_BATCH);
      const embedded = await embedder.embed(batch.map((i) => chunks[i]!.text));
      if (embedded.length !== batch.length) throw new Error(`embedding model ${model} returned ${embedded.length} vectors for ${batch.length} texts`);
      batch.forEach((i, j) => (vectors[i] = embedded[j]!));
      index.putEmbeddings(model, batch.map((i, j) => ({ key: chunks[i]!.key, vector: embedded[j]! })));
      progress.done += batch.length;
      progress.embedded += batch.length;
      onProgress?.({ ...progress });
    }
    index.dropEmbeddingsExcept(model, new Set(chunks.map((c) => c.key)));
    return new NoteVectors(embedder, chunks.map((c) => c.path), vectors as Float32Array[], progress.embedded);
  }

  get model(): string {
    return this.embedder.model;
  }

  get chunks(): number {
    return this.vectors.length;
  }

  /** One ranked list per text, each text embedded as a query. */
  async search(texts: readonly string[], limit: number): Promise<Hit[][]> {
    const fresh = [...new Set(texts.filter((t) => !this.#queries.has(t)))];
    if (fresh.length > 0) {
      const embedded = await this.embedder.embed(fresh.map((t) => formatQueryForEmbedding(this.model, t)));
      fresh.forEach((t, i) => this.#queries.set(t, embedded[i]!));
    }
    return texts.map((t) => this.nearest(this.#queries.get(t)!, limit));
  }

  private nearest(query: Float32Array, limit: number): Hit[] {
    const scored = this.vectors.map((v, i) => ({ i, score: cosineSimilarity(query, v) }));
    scored.sort((a, b) => b.score - a.score);
    const best = new Map<string, number>();
    for (const { i, score } of scored.slice(0, limit * 3)) {
      const path = this.paths[i]!;
      if (!best.has(path)) best.set(path, score);
    }
    return [...best].map(([path, score]) => ({ path, score })).slice(0, limit);
  }
}
