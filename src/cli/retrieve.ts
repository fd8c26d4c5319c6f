// `qmd retrieve --notes DIR --queries FILE.jsonl [--queries …] [--expansions FILE.jsonl …]
//  [--mode bm25|vector|hybrid …] [--embed-model DIR [--embed-dtype fp32|q8|q4]] [--json]`:
// searches every query the way QMD does — without an expansion, then with each expansions file
// — and prints where the expected note landed in each list and in the final ranking, then hit@k
// and MRR. Vector and hybrid modes need a local transformers.js feature-extraction model folder.
// Formats: src/retrieval/queries.ts.
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { EMBEDDING_DTYPES, type EmbeddingDtype } from '../retrieval/embed.ts';
import { runRetrievalEval, type RetrievalVariant } from '../retrieval/eval.ts';
import { readNoteFolder } from '../retrieval/folder-node.ts';
import { count, MAX_JSONL_BYTES } from '../retrieval/limits.ts';
import { NoteIndex } from '../retrieval/note-index.ts';
import { parseExpansions, parseQueries } from '../retrieval/queries.ts';
import { formatReport } from '../retrieval/report.ts';
import { RETRIEVAL_MODES, type RetrievalMode } from '../retrieval/search.ts';
import { NoteVectors } from '../retrieval/vectors.ts';

const USAGE =
  'usage: qmd retrieve --notes DIR --queries FILE.jsonl [--queries FILE.jsonl …] [--expansions FILE.jsonl …] [--mode bm25|vector|hybrid …] [--embed-model DIR [--embed-dtype fp32|q8|q4]] [--json]\n';

async function readJsonl(path: string): Promise<string> {
  const { size } = await stat(path);
  if (size > MAX_JSONL_BYTES) throw new Error(`${path}: ${count(size)} bytes; files of at most ${count(MAX_JSONL_BYTES)} bytes are read`);
  return readFile(path, 'utf8');
}

export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      notes: { type: 'string' },
      queries: { type: 'string', multiple: true },
      expansions: { type: 'string', multiple: true, default: [] },
      mode: { type: 'string', multiple: true },
      'embed-model': { type: 'string' },
      'embed-dtype': { type: 'string', default: 'fp32' },
      json: { type: 'boolean', default: false },
    },
  });
  const embedModel = values['embed-model'];
  const modes = (values.mode ?? (embedModel ? [...RETRIEVAL_MODES] : ['bm25'])) as RetrievalMode[];
  const dtype = values['embed-dtype'] as EmbeddingDtype;
  if (!values.notes || !values.queries?.length || !modes.every((m) => RETRIEVAL_MODES.includes(m)) || !EMBEDDING_DTYPES.includes(dtype)) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (!embedModel && modes.some((m) => m !== 'bm25')) {
    process.stderr.write(`qmd retrieve: --mode ${modes.filter((m) => m !== 'bm25').join(', ')} needs --embed-model DIR (a transformers.js feature-extraction folder)\n`);
    return 2;
  }

  const { notes, skipped } = await readNoteFolder(values.notes);
  for (const s of skipped) process.stderr.write(`${s.path}: skipped: ${s.reason}\n`);
  const queries = [];
  for (const file of values.queries) queries.push(...parseQueries(await readJsonl(file), file));
  const variants: RetrievalVariant[] = [{ label: 'no expansion', expansions: null }];
  for (const file of values.expansions) variants.push({ label: basename(file).replace(/\.jsonl$/, ''), expansions: parseExpansions(await readJsonl(file), file) });

  const { index } = await NoteIndex.open();
  await index.sync(notes);
  let vectors: NoteVectors | null = null;
  // transformers.js loads only when vectors are asked for: BM25 runs start in a fraction of the time.
  const embedder = embedModel
    ? await (await import('../retrieval/embed-transformers.ts')).loadTransformersEmbedder(basename(embedModel), { device: 'cpu', dtype, localDir: embedModel })
    : null;
  if (embedder) vectors = await NoteVectors.build(index, embedder);
  const report = await runRetrievalEval(
    { fts: (q, limit) => index.search(q, limit), vectors: vectors && ((texts, limit) => vectors.search(texts, limit)) },
    queries,
    variants,
    modes,
  );
  await embedder?.dispose();
  index.close();
  if (values.json) process.stdout.write(JSON.stringify(report) + '\n');
  else {
    process.stdout.write(`notes: ${notes.length} in ${values.notes}${skipped.length ? ` (${skipped.length} skipped)` : ''}; queries: ${queries.length}${vectors ? `; vectors: ${vectors.chunks} chunks, ${vectors.model}` : ''}\n\n`);
    process.stdout.write(formatReport(report));
  }
  return 0;
}
