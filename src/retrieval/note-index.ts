// The notes in SQLite (the official WebAssembly build, `@sqlite.org/sqlite-wasm`, the same in
// the page and in Node): QMD's FTS5 table `documents_fts(filepath, title, body)` with
// tokenize='porter unicode61', ranked by bm25(documents_fts, 1.5, 4.0, 1.0), plus the
// embeddings of note chunks by content key. The database is in memory; `bytes()` exports it
// and `openNoteIndex(bytes)` opens such an export again (how the page keeps it across reloads).
// Notes are re-indexed one by one when their hash changes.
import sqlite3InitModule, { type Database, type Sqlite3Static } from '@sqlite.org/sqlite-wasm';
import { buildFtsQuery, normalizeCjkForFts } from './fts-query.ts';
import { noteHash, type Note } from './notes.ts';
import type { Hit } from './search.ts';

/** Bumped when the tables change: an export of another version is not opened, the index is rebuilt. */
const SCHEMA_VERSION = 1;

const SCHEMA = `
  CREATE TABLE notes(id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, title TEXT NOT NULL, hash TEXT NOT NULL, text TEXT NOT NULL);
  CREATE VIRTUAL TABLE documents_fts USING fts5(filepath, title, body, tokenize='porter unicode61');
  CREATE TABLE embeddings(model TEXT NOT NULL, key TEXT NOT NULL, vector BLOB NOT NULL, PRIMARY KEY(model, key));
  PRAGMA user_version = ${SCHEMA_VERSION};
`;

export interface SyncReport {
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
}

export interface IndexedNote {
  path: string;
  title: string;
  hash: string;
}

let sqlite: Promise<Sqlite3Static> | null = null;
/** The WebAssembly module, loaded once per page or process. */
export const loadSqlite = (): Promise<Sqlite3Static> => (sqlite ??= sqlite3InitModule());

export class NoteIndex {
  private constructor(
    private readonly sqlite3: Sqlite3Static,
    private readonly db: Database,
  ) {}

  /**
   * An index, from an earlier `bytes()` export when one is given and it opens as this schema;
   * otherwise empty, with the reason the export was not used.
   */
  static async open(bytes: Uint8Array | null = null): Promise<{ index: NoteIndex; restoreError: string | null }> {
    const sqlite3 = await loadSqlite();
    if (bytes) {
      const db = new sqlite3.oo1.DB(':memory:', 'c');
      try {
        deserialize(sqlite3, db, bytes);
        const version = db.selectValue('PRAGMA user_version');
        if (version !== SCHEMA_VERSION) throw new Error(`schema version ${String(version)}, this build reads ${SCHEMA_VERSION}`);
        db.selectValue('SELECT count(*) FROM notes JOIN documents_fts ON documents_fts.rowid = notes.id');
        return { index: new NoteIndex(sqlite3, db), restoreError: null };
      } catch (err) {
        db.close();
        const fresh = NoteIndex.empty(sqlite3);
        return { index: fresh, restoreError: `the stored index could not be opened (${err instanceof Error ? err.message : String(err)}); it is rebuilt` };
      }
    }
    return { index: NoteIndex.empty(sqlite3), restoreError: null };
  }

  private static empty(sqlite3: Sqlite3Static): NoteIndex {
    const db = new sqlite3.oo1.DB(':memory:', 'c');
    db.exec(SCHEMA);
    return new NoteIndex(sqlite3, db);
  }

  notes(): IndexedNote[] {
    return this.db.selectObjects('SELECT path, title, hash FROM notes ORDER BY path') as unknown as IndexedNote[];
  }

  /** Makes the index hold exactly `notes`: new and changed ones (by hash) are (re-)indexed, missing ones removed. */
  async sync(notes: readonly Note[]): Promise<SyncReport> {
    const hashes = await Promise.all(notes.map(noteHash));
    const known = new Map(this.notes().map((n) => [n.path, n.hash]));
    const report: SyncReport = { added: 0, changed: 0, removed: 0, unchanged: 0 };
    const wanted = new Set(notes.map((n) => n.path));
    this.db.transaction(() => {
      for (const [path] of known) {
        if (wanted.has(path)) continue;
        this.remove(path);
        report.removed++;
      }
      notes.forEach((note, i) => {
        const hash = hashes[i]!;
        const before = known.get(note.path);
        if (before === hash) {
          report.unchanged++;
          return;
        }
        if (before === undefined) report.added++;
        else {
          this.remove(note.path);
          report.changed++;
        }
        this.insert(note, hash);
      });
    });
    return report;
  }

  private remove(path: string): void {
    const id = this.db.selectValue('SELECT id FROM notes WHERE path = ?', [path]);
    this.db.exec({ sql: 'DELETE FROM documents_fts WHERE rowid = ?', bind: [id ?? null] });
    this.db.exec({ sql: 'DELETE FROM notes WHERE path = ?', bind: [path] });
  }

  private insert(note: Note, hash: string): void {
    this.db.exec({ sql: 'INSERT INTO notes(path, title, hash, text) VALUES (?, ?, ?, ?)', bind: [note.path, note.title, hash, note.text] });
    const id = this.db.selectValue('SELECT last_insert_rowid()');
    this.db.exec({
      sql: 'INSERT INTO documents_fts(rowid, filepath, title, body) VALUES (?, ?, ?, ?)',
      bind: [id ?? null, normalizeCjkForFts(note.path), normalizeCjkForFts(note.title), normalizeCjkForFts(note.text)],
    });
  }

  /** QMD's searchFTS: the best `limit` notes for a typed query; score |bm25| / (1 + |bm25|). */
  search(query: string, limit: number): Hit[] {
    const match = buildFtsQuery(query);
    if (match === null) return [];
    const rows = this.db.selectArrays(
      `SELECT notes.path, bm25(documents_fts, 1.5, 4.0, 1.0) AS bm25_score
         FROM documents_fts JOIN notes ON notes.id = documents_fts.rowid
        WHERE documents_fts MATCH ? ORDER BY bm25_score ASC LIMIT ?`,
      [match, limit],
    );
    return rows.map(([path, bm25]) => {
      const magnitude = Math.abs(Number(bm25));
      return { path: String(path), score: magnitude / (1 + magnitude) };
    });
  }

  /** Every indexed note with its text, by path. */
  notesWithText(): Note[] {
    return this.db.selectObjects('SELECT path, title, text FROM notes ORDER BY path') as unknown as Note[];
  }

  embedding(model: string, key: string): Float32Array | null {
    const blob = this.db.selectValue('SELECT vector FROM embeddings WHERE model = ? AND key = ?', [model, key]);
    if (!(blob instanceof Uint8Array)) return null;
    return new Float32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));
  }

  putEmbeddings(model: string, entries: readonly { key: string; vector: Float32Array }[]): void {
    this.db.transaction(() => {
      for (const { key, vector } of entries) {
        const bytes = new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength);
        this.db.exec({ sql: 'INSERT OR REPLACE INTO embeddings(model, key, vector) VALUES (?, ?, ?)', bind: [model, key, bytes] });
      }
    });
  }

  /** Drops the model's embeddings whose keys are not in `keys` (chunks no note has any more); returns how many. */
  dropEmbeddingsExcept(model: string, keys: ReadonlySet<string>): number {
    const stored = this.db.selectValues('SELECT key FROM embeddings WHERE model = ?', [model]) as string[];
    const stale = stored.filter((k) => !keys.has(k));
    this.db.transaction(() => {
      for (const key of stale) this.db.exec({ sql: 'DELETE FROM embeddings WHERE model = ? AND key = ?', bind: [model, key] });
    });
    return stale.length;
  }

  /** The whole database as SQLite file bytes. */
  bytes(): Uint8Array {
    return this.sqlite3.capi.sqlite3_js_db_export(this.db);
  }

  close(): void {
    this.db.close();
  }
}

function deserialize(sqlite3: Sqlite3Static, db: Database, bytes: Uint8Array): void {
  const { capi, wasm } = sqlite3;
  // SQLite owns the copy from here (FREEONCLOSE) and may grow it (RESIZEABLE) as notes are added.
  const pointer = wasm.allocFromTypedArray(bytes);
  const rc = capi.sqlite3_deserialize(db, 'main', pointer, bytes.byteLength, bytes.byteLength, capi.SQLITE_DESERIALIZE_FREEONCLOSE | capi.SQLITE_DESERIALIZE_RESIZEABLE);
  if (rc !== capi.SQLITE_OK) {
    wasm.dealloc(pointer);
    throw new Error(`sqlite3_deserialize returned ${rc}`);
  }
}
