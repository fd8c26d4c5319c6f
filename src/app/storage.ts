import { messageOf } from './format.ts';
// Storage quota and persistence: datasets and results live in IndexedDB, which the browser
// may evict under pressure unless the user grants persistent storage.

export interface StorageLike {
  estimate?(): Promise<{ usage?: number; quota?: number }>;
  persisted?(): Promise<boolean>;
  persist?(): Promise<boolean>;
}

export type StorageStatus =
  | { state: 'checking' }
  | { state: 'unavailable'; reason: string }
  | { state: 'ready'; usage: number; quota: number; persisted: boolean; canPersist: boolean };

export async function readStorage(storage: StorageLike | undefined): Promise<StorageStatus> {
  if (!storage?.estimate) {
    return { state: 'unavailable', reason: 'navigator.storage.estimate is not available in this browser.' };
  }
  try {
    const { usage = 0, quota = 0 } = await storage.estimate();
    const persisted = storage.persisted ? await storage.persisted() : false;
    return { state: 'ready', usage, quota, persisted, canPersist: typeof storage.persist === 'function' };
  } catch (err) {
    return { state: 'unavailable', reason: `navigator.storage.estimate() failed: ${messageOf(err)}` };
  }
}

/** Asks for persistent storage; returns the new status and whether the browser granted it. */
export async function requestPersistence(storage: StorageLike): Promise<{ granted: boolean; status: StorageStatus }> {
  const granted = storage.persist ? await storage.persist() : false;
  return { granted, status: await readStorage(storage) };
}
