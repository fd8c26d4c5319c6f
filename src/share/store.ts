// Eval results in the `results` store of the one lab database.
import type { EvalResult, LabDatabase } from '../data/db.ts';

export async function saveResult(db: LabDatabase, result: EvalResult): Promise<void> {
  await db.put('results', result);
}

export function getResult(db: LabDatabase, id: string): Promise<EvalResult | undefined> {
  return db.get('results', id);
}

/** Newest first. */
export async function listResults(db: LabDatabase): Promise<EvalResult[]> {
  const results = await db.getAll('results');
  return results.sort((x, y) => y.created - x.created);
}

export async function deleteResult(db: LabDatabase, id: string): Promise<void> {
  await db.delete('results', id);
}

export async function renameResult(db: LabDatabase, id: string, name: string): Promise<EvalResult> {
  const trimmed = name.trim();
  if (trimmed === '') throw new Error(`rename result ${id}: expected a non-empty name`);
  const tx = db.transaction('results', 'readwrite');
  const result = await tx.store.get(id);
  if (!result) {
    await tx.done;
    throw new Error(`rename result ${id}: no such result`);
  }
  const renamed = { ...result, name: trimmed };
  await tx.store.put(renamed);
  await tx.done;
  return renamed;
}
