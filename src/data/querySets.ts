// Query sets: lists of queries to expand and evaluate. Uploaded sets live in IndexedDB;
// built-in ones come from configs/queries (builtinQuerySets.ts).
import { newId, type LabDatabase, type QuerySet } from './db.ts';

export interface QueryList {
  name: string;
  queries: string[];
}

/**
 * A query file: one query per line, trimmed, blank lines dropped; the name is the file
 * name without its extension. An empty set is an error naming the file.
 */
export function parseQueryText(text: string, fileName: string): QueryList {
  const queries = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
  if (queries.length === 0) throw new Error(`${fileName}: no queries found (expected one query per line)`);
  return { name: fileName.replace(/\.[^./\\]*$/, '') || fileName, queries };
}

export async function saveQuerySet(db: LabDatabase, list: QueryList): Promise<QuerySet> {
  if (list.queries.length === 0) throw new Error(`saveQuerySet: query set "${list.name}" has no queries`);
  const set: QuerySet = { id: newId(), name: list.name, queries: [...list.queries], created: Date.now() };
  await db.put('querySets', set);
  return set;
}

/** Stored query sets, newest first. */
export async function listQuerySets(db: LabDatabase): Promise<QuerySet[]> {
  return (await db.getAll('querySets')).sort((a, b) => b.created - a.created);
}

export async function deleteQuerySet(db: LabDatabase, id: string): Promise<void> {
  await db.delete('querySets', id);
}
