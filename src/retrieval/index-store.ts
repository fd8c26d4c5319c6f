// The page keeps its note index across reloads as SQLite file bytes in IndexedDB (database
// `qmd-retrieval`). SQLite's own OPFS storage would need the index in a worker and a
// cross-origin-isolated page (COOP/COEP headers, for SharedArrayBuffer), which static hosting
// of this page does not promise; an export after each change costs one copy of the index.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { FolderEntry, PermissionHandle } from './folder-handle.ts';

export interface StoredIndex {
  /** `NoteIndex.bytes()`. */
  bytes: Uint8Array;
  /** The picked folder's name. */
  folder: string;
  saved: number;
  /** The folder's FileSystemDirectoryHandle when it was chosen with showDirectoryPicker (IndexedDB keeps handles). */
  handle?: FolderEntry & PermissionHandle;
}

interface RetrievalDB extends DBSchema {
  index: { key: string; value: StoredIndex };
}

const KEY = 'notes';
let opening: Promise<IDBPDatabase<RetrievalDB>> | null = null;

const INDEX_DB_NAME = 'qmd-retrieval';

function db(): Promise<IDBPDatabase<RetrievalDB>> {
  opening ??= openDB<RetrievalDB>(INDEX_DB_NAME, 1, { upgrade: (d) => void d.createObjectStore('index') }).catch((err: unknown) => {
    opening = null;
    throw new Error(`IndexedDB: could not open the ${INDEX_DB_NAME} database (${err instanceof Error ? err.message : String(err)})`);
  });
  return opening;
}

export async function loadStoredIndex(): Promise<StoredIndex | null> {
  return (await (await db()).get('index', KEY)) ?? null;
}

export async function saveStoredIndex(entry: StoredIndex): Promise<void> {
  await (await db()).put('index', entry, KEY);
}

export async function clearStoredIndex(): Promise<void> {
  await (await db()).delete('index', KEY);
}
