// Retrieval eval throughput on 1,000 generated notes: indexing (notes/s, hashing and SQLite FTS5
// included), an unchanged re-sync, BM25 queries (queries/s), embedding the chunks with the
// generated tiny embedder through transformers.js (chunks/s: our plumbing, not a real model's
// speed), vector queries (exact cosine over every chunk) and whole hybrid searches.
// `npx tsx bench/retrieval.ts [--notes N]`; prints a Markdown table for bench/RESULTS.md.
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeTinyEmbedder } from '../scripts/make-tiny-embedder.ts';
import { mulberry32 } from '../src/random.ts';
import { loadTransformersEmbedder } from '../src/retrieval/embed-transformers.ts';
import { NoteIndex } from '../src/retrieval/note-index.ts';
import { makeNote, type Note } from '../src/retrieval/notes.ts';
import { searchQuery, type Searcher } from '../src/retrieval/search.ts';
import { NoteVectors } from '../src/retrieval/vectors.ts';

const { values } = parseArgs({ options: { notes: { type: 'string', default: '1000' } } });
const NOTES = Number(values.notes);
const QUERIES = 500;

// A Zipf-ish vocabulary of pseudo-words, so some terms are common and most are rare, as in notes.
const random = mulberry32(42);
const vocabulary = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}${'aeiou'[i % 5]}`);
const word = () => vocabulary[Math.floor(vocabulary.length * random() ** 3)]!;
const sentence = (n: number) => Array.from({ length: n }, word).join(' ');

function generatedNote(i: number): Note {
  const sections = Array.from({ length: 4 + (i % 5) }, (_, s) => `## ${sentence(3)}\n\n${sentence(60 + ((i * 7 + s) % 80))}.`);
  return makeNote(`bench/note-${i}.md`, `# ${sentence(4)}\n\n${sections.join('\n\n')}\n`);
}

const seconds = async (f: () => Promise<unknown> | unknown) => {
  const start = performance.now();
  await f();
  return (performance.now() - start) / 1000;
};
const rate = (n: number, s: number) => Math.round(n / s).toLocaleString('en-US');

const notes = Array.from({ length: NOTES }, (_, i) => generatedNote(i));
const chars = notes.reduce((n, note) => n + note.text.length, 0);
const queries = Array.from({ length: QUERIES }, () => sentence(1 + Math.floor(random() * 3)));
const expansion = (q: string) => `lex: ${q} ${word()}\nlex: ${word()} ${q}\nvec: ${q} ${sentence(5)}\nhyde: ${q} ${sentence(20)}`;

const { index } = await NoteIndex.open();
const indexing = await seconds(() => index.sync(notes));
const resync = await seconds(() => index.sync(notes));
let found = 0;
const bm25 = await seconds(() => {
  for (const q of queries) found += index.search(q, 20).length > 0 ? 1 : 0;
});

const dir = await mkdtemp(join(tmpdir(), 'qmd-bench-'));
await makeTinyEmbedder(join(dir, 'tiny-embedder'));
const embedder = await loadTransformersEmbedder('tiny-embedder', { device: 'cpu', dtype: 'fp32', localDir: join(dir, 'tiny-embedder') });
let vectors: NoteVectors | null = null;
const embedding = await seconds(async () => (vectors = await NoteVectors.build(index, embedder)));
const built = vectors as unknown as NoteVectors;
const cached = await seconds(() => NoteVectors.build(index, embedder));
const vector = await seconds(() => built.search(queries, 20));
const searcher: Searcher = { fts: (q, l) => index.search(q, l), vectors: (t, l) => built.search(t, l) };
const hybridQueries = queries.slice(0, 100);
const hybrid = await seconds(async () => {
  for (const q of hybridQueries) await searchQuery(searcher, q, expansion(q), 'hybrid');
});
const bytes = index.bytes().byteLength;
await embedder.dispose();
await rm(dir, { recursive: true, force: true });

console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}; load ${loadavg().map((l) => l.toFixed(2)).join(' ')} at the end`);
console.log(`Notes: ${NOTES.toLocaleString('en-US')} generated (${(chars / NOTES).toFixed(0)} characters each on average, ${built.chunks.toLocaleString('en-US')} chunks); index ${(bytes / 2 ** 20).toFixed(1)} MiB exported; ${found} of ${QUERIES} BM25 queries found a note\n`);
console.log('| step | count | time | rate |');
console.log('|---|---:|---:|---:|');
console.log(`| index (hash + FTS5 insert) | ${NOTES} notes | ${indexing.toFixed(2)} s | ${rate(NOTES, indexing)} notes/s |`);
console.log(`| re-sync, nothing changed | ${NOTES} notes | ${resync.toFixed(2)} s | ${rate(NOTES, resync)} notes/s |`);
console.log(`| BM25 query (FTS5 MATCH, top 20) | ${QUERIES} queries | ${bm25.toFixed(2)} s | ${rate(QUERIES, bm25)} queries/s |`);
console.log(`| embed chunks (tiny embedder, transformers.js CPU) | ${built.chunks} chunks | ${embedding.toFixed(2)} s | ${rate(built.chunks, embedding)} chunks/s |`);
console.log(`| rebuild vectors, all cached | ${built.chunks} chunks | ${cached.toFixed(2)} s | ${rate(built.chunks, cached)} chunks/s |`);
console.log(`| vector query (embed + exact cosine, top 20) | ${QUERIES} queries | ${vector.toFixed(2)} s | ${rate(QUERIES, vector)} queries/s |`);
console.log(`| hybrid search, 2 lex + vec + hyde lines | ${hybridQueries.length} queries | ${hybrid.toFixed(2)} s | ${rate(hybridQueries.length, hybrid)} queries/s |`);
