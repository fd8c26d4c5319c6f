import { describe, expect, it } from 'vitest';
import { loadSqlite, NoteIndex } from './note-index.ts';
import { makeNote } from './notes.ts';

const notes = [
  makeNote('n/zebra-title.md', '# Zebra\n\nStripes on a savanna animal.'),
  makeNote('n/zebra-body.md', '# Animals\n\nA zebra here and a zebra there, grazing.'),
  makeNote('n/network.md', '# Networks\n\nConnections between nodes fail; multi-agent systems retry. Release 2026.4.10 shipped.'),
];

async function indexOf(list = notes): Promise<NoteIndex> {
  const { index } = await NoteIndex.open();
  await index.sync(list);
  return index;
}

describe('NoteIndex on SQLite FTS5 (sqlite-wasm)', () => {
  it('runs on a build with FTS5', async () => {
    const sqlite3 = await loadSqlite();
    const db = new sqlite3.oo1.DB(':memory:', 'c');
    expect(db.selectValues('PRAGMA compile_options')).toContain('ENABLE_FTS5');
    db.close();
  });

  it('stems with porter: "connected" finds "Connections"', async () => {
    const index = await indexOf();
    expect(index.search('connected', 20).map((h) => h.path)).toEqual(['n/network.md']);
    expect(index.search('multi-agent', 20).map((h) => h.path)).toEqual(['n/network.md']);
    expect(index.search('2026.4.10', 20).map((h) => h.path)).toEqual(['n/network.md']);
    expect(index.search('zebra -stripes', 20).map((h) => h.path)).toEqual(['n/zebra-body.md']);
  });

  it('ranks by bm25(1.5, 4.0, 1.0): one title match beats two body matches; scores |x|/(1+|x|)', async () => {
    // n/a.md has zebra in its title (and so its first line), n/b.md twice in its body; with equal
    // column weights n/b.md would win (bm25 −1.797 vs −1.537).
    const fillers = Array.from({ length: 8 }, (_, i) => makeNote(`n/filler-${i}.md`, `# Filler ${i}\n\nConnections between nodes fail and recover.`));
    const index = await indexOf([
      makeNote('n/a.md', '# Zebra crossing\n\nCross at the lights. Look both ways before walking into the road.'),
      makeNote('n/b.md', '# Animals\n\nA zebra grazes. A zebra runs.'),
      ...fillers,
    ]);
    const hits = index.search('zebra', 20);
    expect(hits.map((h) => h.path)).toEqual(['n/a.md', 'n/b.md']);
    expect(hits[0]!.score).toBeCloseTo(2.069659186004488 / 3.069659186004488, 12);
    expect(hits[1]!.score).toBeCloseTo(1.796557541535475 / 2.796557541535475, 12);
    expect(index.search('zebra', 1)).toHaveLength(1);
  });

  it('takes any typed text without an FTS5 syntax error', async () => {
    const index = await indexOf();
    for (const q of ['a" OR b NEAR(c d) * ^x {col}: "e', 'NOT AND OR', '(((', '-', '"', "'; DROP TABLE notes; --"]) {
      expect(() => index.search(q, 20)).not.toThrow();
    }
    expect(index.notes()).toHaveLength(3);
  });

  it('re-indexes only what changed', async () => {
    const index = await indexOf();
    const edited = [notes[0]!, makeNote('n/zebra-body.md', '# Animals\n\nNo stripes now.'), makeNote('n/new.md', '# New\n\nfresh zebra')];
    expect(await index.sync(edited)).toEqual({ added: 1, changed: 1, removed: 1, unchanged: 1 });
    expect(index.search('grazing', 20)).toEqual([]); // the changed note's old text is gone
    expect(index.search('stripes', 20).map((h) => h.path).sort()).toEqual(['n/zebra-body.md', 'n/zebra-title.md']);
    expect(index.search('fresh', 20).map((h) => h.path)).toEqual(['n/new.md']);
    expect(index.search('connected', 20)).toEqual([]); // the removed note is gone
    expect(await index.sync(edited)).toEqual({ added: 0, changed: 0, removed: 0, unchanged: 3 });
  });

  it('reopens from its exported bytes with the same notes, results and embeddings', async () => {
    const index = await indexOf();
    index.putEmbeddings('m', [{ key: 'k', vector: Float32Array.of(1, -2, 3.5) }]);
    const bytes = index.bytes();
    const { index: again, restoreError } = await NoteIndex.open(bytes);
    expect(restoreError).toBeNull();
    expect(again.notes()).toEqual(index.notes());
    expect(again.search('zebra', 20)).toEqual(index.search('zebra', 20));
    expect(again.embedding('m', 'k')).toEqual(Float32Array.of(1, -2, 3.5));
    expect(await again.sync(notes)).toEqual({ added: 0, changed: 0, removed: 0, unchanged: 3 });
    // The reopened database grows (SQLITE_DESERIALIZE_RESIZEABLE).
    await again.sync([...notes, makeNote('n/more.md', '# More\n\n' + 'word '.repeat(20_000))]);
    expect(again.search('word', 20).map((h) => h.path)).toEqual(['n/more.md']);
  });

  it('starts empty, saying why, from bytes that are not its database', async () => {
    const garbage = await NoteIndex.open(new TextEncoder().encode('not a database at all'));
    expect(garbage.restoreError).toMatch(/^the stored index could not be opened \(.+\); it is rebuilt$/);
    expect(garbage.index.notes()).toEqual([]);

    const sqlite3 = await loadSqlite();
    const other = new sqlite3.oo1.DB(':memory:', 'c');
    other.exec('CREATE TABLE t(x); PRAGMA user_version = 99;');
    const stranger = await NoteIndex.open(sqlite3.capi.sqlite3_js_db_export(other));
    expect(stranger.restoreError).toContain('schema version 99, this build reads 1');
    other.close();
  });

  it('drops embeddings of chunks no note has any more', async () => {
    const index = await indexOf();
    index.putEmbeddings('m', [{ key: 'keep', vector: Float32Array.of(1) }, { key: 'stale', vector: Float32Array.of(2) }]);
    index.putEmbeddings('other', [{ key: 'stale', vector: Float32Array.of(3) }]);
    expect(index.dropEmbeddingsExcept('m', new Set(['keep']))).toBe(1);
    expect(index.embedding('m', 'stale')).toBeNull();
    expect(index.embedding('m', 'keep')).toEqual(Float32Array.of(1));
    expect(index.embedding('other', 'stale')).toEqual(Float32Array.of(3));
  });
});
