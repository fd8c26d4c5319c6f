// The model files kept in the browser (OPFS, written by the engine worker through OpfsCache):
// what the model panel lists, with delete per file and clear all. The page reads the same
// origin-private folder as the worker, so the listing survives a crashed or restarted worker.
import type { CacheEntry } from '../../model/hub/cache.ts';
import { OpfsCache } from '../../model/hub/opfs-cache.ts';
import { messageOf } from '../../app/format.ts';

class ModelCacheState {
  entries = $state<CacheEntry[]>([]);
  error = $state<string | null>(null);
  /** A listing failure clears once a later listing succeeds; a failed delete stays until the next change. */
  #listFailed = false;
  #cache = new OpfsCache();

  get totalBytes(): number {
    return this.entries.reduce((sum, e) => sum + e.bytes, 0);
  }

  async #run(what: string, work: () => Promise<void>): Promise<void> {
    this.error = null;
    this.#listFailed = false;
    try {
      await work();
    } catch (error) {
      // A file the worker is writing is locked (NoModificationAllowedError) until its download ends.
      this.error = `could not ${what}: ${messageOf(error)}`;
    }
    await this.refresh();
  }

  async refresh(): Promise<void> {
    try {
      const entries = await this.#cache.list();
      this.entries = entries.sort((a, b) => a.repo.localeCompare(b.repo) || a.file.localeCompare(b.file));
      if (this.#listFailed) this.error = null;
      this.#listFailed = false;
    } catch (error) {
      this.error = `could not list the model cache: ${messageOf(error)}`;
      this.#listFailed = true;
    }
  }

  remove(entry: CacheEntry): Promise<void> {
    return this.#run(`delete ${entry.repo}/${entry.file}`, () => this.#cache.delete(entry));
  }

  clear(): Promise<void> {
    return this.#run('clear the model cache', () => this.#cache.clear());
  }
}

export const modelCache = new ModelCacheState();
