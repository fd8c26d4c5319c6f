import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyEmbedder, type TinyEmbedderWeights } from '../../scripts/make-tiny-embedder.ts';
import { loadBundledTokenizer } from '../engine/tokenizer-node.ts';
import { cosineSimilarity, formatDocumentForEmbedding, formatQueryForEmbedding, type Embedder } from './embed.ts';
import { loadTransformersEmbedder, type LoadedEmbedder } from './embed-transformers.ts';
import { NoteIndex } from './note-index.ts';
import { makeNote } from './notes.ts';
import { NoteVectors } from './vectors.ts';

/** Mean of the token rows (masked by construction: one text at a time), then an optional projection, L2-normalised. */
function expected(w: TinyEmbedderWeights, ids: number[], project: boolean): Float32Array {
  const mean = new Float64Array(w.dims);
  for (const id of ids) for (let d = 0; d < w.dims; d++) mean[d]! += w.table[w.bucketOf[id]! * w.dims + d]! / ids.length;
  let out = Float64Array.from(mean);
  if (project) {
    out = new Float64Array(w.dims);
    for (let j = 0; j < w.dims; j++) for (let i = 0; i < w.dims; i++) out[j]! += mean[i]! * w.projection![i * w.dims + j]!;
  }
  const norm = Math.hypot(...out);
  return Float32Array.from(out, (x) => x / norm);
}

describe('transformers.js feature-extraction on a generated tiny model (no download)', () => {
  let dir: string;
  let pooled: LoadedEmbedder;
  let projected: LoadedEmbedder;
  let pooledWeights: TinyEmbedderWeights;
  let projectedWeights: TinyEmbedderWeights;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'qmd-embedder-'));
    pooledWeights = await makeTinyEmbedder(join(dir, 'pooled'), { seed: 1 });
    projectedWeights = await makeTinyEmbedder(join(dir, 'projected'), { seed: 1, sentenceEmbedding: true });
    pooled = await loadTransformersEmbedder('pooled', { device: 'cpu', dtype: 'fp32', localDir: join(dir, 'pooled') });
    projected = await loadTransformersEmbedder('projected', { device: 'cpu', dtype: 'fp32', localDir: join(dir, 'projected') });
  });
  afterAll(async () => {
    await pooled?.dispose();
    await projected?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('mean-pools last_hidden_state over real tokens (padding masked) and normalises', async () => {
    const tokenizer = await loadBundledTokenizer();
    const texts = ['task: search result | query: API versioning', 'title: none | text: a much longer chunk of a note, so the first text is padded'];
    const vectors = await pooled.embed(texts);
    texts.forEach((t, i) => {
      const want = expected(pooledWeights, tokenizer.encode(t), false);
      for (let d = 0; d < want.length; d++) expect(vectors[i]![d]).toBeCloseTo(want[d]!, 5);
    });
  });

  it('uses the model’s sentence_embedding output when it has one', async () => {
    const tokenizer = await loadBundledTokenizer();
    const text = 'title: Raft | text: leader election';
    const [vector] = await projected.embed([text]);
    const want = expected(projectedWeights, tokenizer.encode(text), true);
    for (let d = 0; d < want.length; d++) expect(vector![d]).toBeCloseTo(want[d]!, 5);
    // Same tables, so mean pooling alone would give a different vector.
    expect(cosineSimilarity(vector!, expected(projectedWeights, tokenizer.encode(text), false))).toBeLessThan(0.9);
  });
});

/** A deterministic embedder that records every text it is asked to embed. */
function recordingEmbedder(model = 'fake-model'): Embedder & { seen: string[] } {
  const seen: string[] = [];
  return {
    model,
    seen,
    async embed(texts) {
      seen.push(...texts);
      // Letter counts: texts sharing letters point the same way.
      return texts.map((t) => {
        const v = new Float32Array(26);
        for (const c of t.toLowerCase()) if (c >= 'a' && c <= 'z') v[c.charCodeAt(0) - 97]! += 1;
        return v;
      });
    },
  };
}

describe('NoteVectors', () => {
  const notes = [
    makeNote('n/zebra.md', '# Zebra\n\nzzzz zebra zone'),
    makeNote('n/apple.md', '# Apple\n\naaaa apple pie'),
    makeNote('n/long.md', '# Long\n\n' + 'word '.repeat(1500)),
  ];

  it('embeds chunks as QMD does, once: cached by content in the index, also across an export', async () => {
    const { index } = await NoteIndex.open();
    await index.sync(notes);
    const first = recordingEmbedder();
    const built = await NoteVectors.build(index, first);
    // The long note is 7,508 characters: three chunks.
    expect(built.chunks).toBe(5);
    expect(built.embedded).toBe(5);
    expect(first.seen).toContain(formatDocumentForEmbedding('fake-model', notes[0]!.text, 'Zebra'));
    expect(first.seen).toContain('title: Zebra | text: # Zebra\n\nzzzz zebra zone');

    const again = recordingEmbedder();
    expect((await NoteVectors.build(index, again)).embedded).toBe(0);
    expect(again.seen).toEqual([]);

    await index.sync([makeNote('n/zebra.md', '# Zebra\n\nzebras everywhere'), notes[1]!, notes[2]!]);
    const changed = recordingEmbedder();
    expect((await NoteVectors.build(index, changed)).embedded).toBe(1);

    const { index: reopened } = await NoteIndex.open(index.bytes());
    const afterReload = recordingEmbedder();
    expect((await NoteVectors.build(reopened, afterReload)).embedded).toBe(0);
    // Another model has its own cache.
    expect((await NoteVectors.build(reopened, recordingEmbedder('other-model'))).embedded).toBe(5);
  });

  it('searches with the query prompt, one result per note at its best chunk, embedding each query once', async () => {
    const { index } = await NoteIndex.open();
    await index.sync(notes);
    const embedder = recordingEmbedder();
    const vectors = await NoteVectors.build(index, embedder);
    embedder.seen.length = 0;
    const [zebra, apple] = await vectors.search(['zzz zebra', 'apple apple'], 20);
    expect(embedder.seen).toEqual([formatQueryForEmbedding('fake-model', 'zzz zebra'), 'task: search result | query: apple apple']);
    expect(zebra![0]!.path).toBe('n/zebra.md');
    expect(apple![0]!.path).toBe('n/apple.md');
    expect(new Set(zebra!.map((h) => h.path)).size).toBe(zebra!.length);
    await vectors.search(['zzz zebra'], 20);
    expect(embedder.seen).toHaveLength(2);
    expect((await vectors.search(['zzz zebra'], 1))[0]).toHaveLength(1);
  });

  it('formats Qwen3-Embedding prompts as QMD does', () => {
    expect(formatQueryForEmbedding('Qwen/Qwen3-Embedding-0.6B', 'q')).toBe('Instruct: Retrieve relevant documents for the given query\nQuery: q');
    expect(formatDocumentForEmbedding('onnx-community/Qwen3-Embedding-0.6B-ONNX', 'body', 'T')).toBe('T\nbody');
    expect(formatDocumentForEmbedding('onnx-community/embeddinggemma-300m-ONNX', 'body', '')).toBe('title: none | text: body');
  });
});
