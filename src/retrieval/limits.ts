// What the retrieval eval accepts, so any folder or file a user hands it costs bounded work and
// memory (the whole index lives in SQLite's WebAssembly heap, and the page keeps a copy of its
// bytes). Real note folders and query sets sit far below these; errors name the limit.

/** Notes in one folder. */
export const MAX_NOTES = 10_000;
/** Bytes of one note; a larger note is skipped, and named in the list of skipped files. */
export const MAX_NOTE_BYTES = 1 << 20;
/** Bytes of all notes together. */
export const MAX_NOTES_TOTAL_BYTES = 64 << 20;
/** Folder entries (files and folders) the CLI looks at while collecting notes. */
export const MAX_FOLDER_ENTRIES = 100_000;
/** Bytes of a queries or expansions file. */
export const MAX_JSONL_BYTES = 16 << 20;
/** Characters of one line of such a file. */
export const MAX_JSONL_LINE_CHARS = 64 << 10;
/** Queries in one file. */
export const MAX_QUERIES = 10_000;
/** Characters of the expected note's name. */
export const MAX_EXPECTED_CHARS = 1_000;
/**
 * Retrieval lines (lex/vec/hyde) of one expansion that are searched; QMD's expansions have a
 * handful, so lines past this are dropped and counted in the query's trace.
 */
export const MAX_EXPANSION_SEARCHES = 64;

export function count(n: number): string {
  return n.toLocaleString('en-US');
}
