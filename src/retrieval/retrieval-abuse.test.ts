// Hostile inputs to the retrieval eval: each gets a clear error or a correct result, and the
// work stays bounded — measured in chunks, searches, parts and rows, not in time.
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_QUERY_CHARS } from '../scoring/limits.ts';
import { CHUNK_CHARS, CHUNK_OVERLAP_CHARS, CHUNK_WINDOW_CHARS, chunkNote } from './chunk.ts';
import { readNoteFolder } from './folder-node.ts';
import { buildFtsQuery } from './fts-query.ts';
import { MAX_EXPANSION_SEARCHES, MAX_JSONL_LINE_CHARS, MAX_NOTE_BYTES, MAX_QUERIES } from './limits.ts';
import { NoteIndex } from './note-index.ts';
import { makeNote } from './notes.ts';
import { parseExpansions, parseQueries } from './queries.ts';
import { searchQuery, type Searcher } from './search.ts';

describe('retrieval under hostile input', () => {
  it('chunks a 1 MiB note of breaks and fences into a bounded number of chunks covering it', () => {
    const text = '\n```\n#\n- \n\n'.repeat(MAX_NOTE_BYTES / 12);
    const chunks = chunkNote(text);
    // Each chunk ends at least CHUNK_CHARS − CHUNK_WINDOW_CHARS after its start, and the next starts CHUNK_OVERLAP_CHARS back.
    const minAdvance = CHUNK_CHARS - CHUNK_WINDOW_CHARS - CHUNK_OVERLAP_CHARS;
    expect(chunks.length).toBeLessThanOrEqual(Math.ceil(text.length / minAdvance) + 1);
    expect(chunks.at(-1)!.pos + chunks.at(-1)!.text.length).toBe(text.length);
    expect(chunks.reduce((n, c) => n + c.text.length, 0)).toBeLessThanOrEqual(text.length * (CHUNK_CHARS / minAdvance));
  });

  it('turns the longest accepted query into a bounded FTS expression SQLite runs', async () => {
    const query = Array.from({ length: MAX_QUERY_CHARS / 2 }, (_, i) => (i % 3 === 0 ? '-a' : i % 3 === 1 ? 'x.y' : '"')).join(' ').slice(0, MAX_QUERY_CHARS);
    const built = buildFtsQuery(query);
    const parts = (built ?? '').split(/ AND | NOT /).length;
    expect(parts).toBeLessThanOrEqual(MAX_QUERY_CHARS);
    const { index } = await NoteIndex.open();
    await index.sync([makeNote('n/a.md', '# a\n\nx y a')]);
    expect(() => index.search(query, 20)).not.toThrow();
    expect(index.search('a '.repeat(MAX_QUERY_CHARS / 2), 20).map((h) => h.path)).toEqual(['n/a.md']);
  });

  it('searches at most MAX_EXPANSION_SEARCHES lines of a 10,000-line expansion', async () => {
    let searches = 0;
    const searcher: Searcher = {
      fts: () => (searches++, []),
      vectors: async (texts) => ((searches += texts.length), texts.map(() => [])),
    };
    const expansion = Array.from({ length: 10_000 }, (_, i) => `${['lex', 'vec', 'hyde'][i % 3]}: raft ${i}`).join('\n');
    const run = await searchQuery(searcher, 'raft', expansion, 'hybrid');
    expect(searches).toBe(2 + MAX_EXPANSION_SEARCHES); // the query in both lists, plus the kept lines
    expect(run.expansion!.dropped).toBe(10_000 - MAX_EXPANSION_SEARCHES);
  });

  it('refuses query files past the row and line limits, naming the line', () => {
    const row = JSON.stringify({ query: 'q', expected_doc: 'x' });
    expect(() => parseQueries(Array(MAX_QUERIES + 1).fill(row).join('\n'), 'big.jsonl')).toThrow(`big.jsonl:${MAX_QUERIES + 1}: more than 10,000 queries`);
    const long = JSON.stringify({ query: 'q', expected_doc: 'x', pad: 'p'.repeat(MAX_JSONL_LINE_CHARS) });
    expect(() => parseQueries(`${row}\n${long}`, 'long.jsonl')).toThrow('long.jsonl:2: the line is');
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    expect(() => parseQueries(deep, 'deep.jsonl')).toThrow('deep.jsonl:1: expected a JSON object');
    expect(() => parseExpansions('{"query": "q", "output": "lex: x"}', 'e.jsonl')).toThrow('e.jsonl:1: field "output": expected an array');
  });

  it('does not follow symbolic links in a notes folder (a loop ends)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qmd-notes-'));
    try {
      await mkdir(join(dir, 'notes', 'a'), { recursive: true });
      await writeFile(join(dir, 'notes', 'a', 'n.md'), '# N');
      await symlink(join(dir, 'notes'), join(dir, 'notes', 'a', 'loop'));
      await symlink(join(dir, 'notes', 'a', 'n.md'), join(dir, 'notes', 'link.md'));
      const { notes } = await readNoteFolder(join(dir, 'notes'));
      expect(notes.map((n) => n.path)).toEqual(['notes/a/n.md']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
