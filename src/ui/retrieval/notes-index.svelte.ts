// The page's note index for the retrieval eval: restored from IndexedDB on first use, synced
// with a picked folder (only changed notes re-indexed; a folder chosen with the File System
// Access API is read again on reload once read access is granted), saved after every change, and the
// embedding models that vector search loads (one per model id, kept while the page lives).
import { messageOf } from '../../app/format.ts';
import type { NotesIdentity, StoredRetrieval } from '../../data/db.ts';
import type { ExpansionPair } from '../../share/result.ts';
import type { EmbeddingDtype } from '../../retrieval/embed.ts';
import { loadTransformersEmbedder, type LoadedEmbedder } from '../../retrieval/embed-transformers.ts';
import { readNoteFiles, type PickedFile } from '../../retrieval/folder-files.ts';
import { filesOfFolder, readAccess, type FolderEntry, type PermissionHandle } from '../../retrieval/folder-handle.ts';
import { clearStoredIndex, loadStoredIndex, saveStoredIndex } from '../../retrieval/index-store.ts';
import { NoteIndex, type IndexedNote, type SyncReport } from '../../retrieval/note-index.ts';
import type { SkippedFile } from '../../retrieval/notes.ts';
import { notesIdentity, recomputeBm25, sameNotes } from '../../retrieval/stored.ts';
import { NoteVectors, type EmbedProgress } from '../../retrieval/vectors.ts';
import { hubBase } from '../engine/engine.svelte.ts';
import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';

/** WebGPU where the browser has it; onnxruntime-web's CPU (wasm) otherwise. */
const device = typeof navigator !== 'undefined' && 'gpu' in navigator ? 'webgpu' : 'wasm';

type FolderHandle = FolderEntry & PermissionHandle;
/** The File System Access API's folder picker, where the browser has it (Chromium). */
const directoryPicker = (): ((options: { mode: 'read' }) => Promise<FolderHandle>) | null =>
  typeof window !== 'undefined' && 'showDirectoryPicker' in window ? (window as unknown as { showDirectoryPicker: (o: { mode: 'read' }) => Promise<FolderHandle> }).showDirectoryPicker.bind(window) : null;

class NotesIndexState {
  notes = $state.raw<IndexedNote[]>([]);
  /** The picked folder's name. */
  folder = $state('');
  /** When the index was last saved in this browser; null before any save. */
  saved = $state<number | null>(null);
  /** True when the notes came from an earlier visit's stored index. */
  restored = $state(false);
  lastSync = $state.raw<SyncReport | null>(null);
  skipped = $state.raw<SkippedFile[]>([]);
  /** What the index is doing now ('' when idle). */
  busy = $state('');
  error = $state('');
  /** Why a stored index was not used ('' when it was, or there was none). */
  restoreError = $state('');
  /** The folder chosen with the folder picker, kept with the index and read again on reload; null after an upload. */
  handle = $state.raw<FolderHandle | null>(null);
  /** Read access to `handle` ('prompt' after a reload until the user clicks to re-sync). */
  access = $state<PermissionState | null>(null);
  readonly canChooseFolder = directoryPicker() !== null;
  #index: Promise<NoteIndex> | null = null;
  /** Loaded embedding models by id and dtype. */
  #embedders = new Map<string, Promise<LoadedEmbedder>>();

  /** The index, restored from this browser's storage the first time. */
  open(): Promise<NoteIndex> {
    this.#index ??= (async () => {
      const stored = await loadStoredIndex().catch((err: unknown) => {
        this.restoreError = messageOf(err);
        return null;
      });
      const { index, restoreError } = await NoteIndex.open(stored?.bytes ?? null);
      if (restoreError) this.restoreError = restoreError;
      this.notes = index.notes();
      if (stored && !restoreError) {
        this.folder = stored.folder;
        this.saved = stored.saved;
        this.restored = this.notes.length > 0;
        this.handle = stored.handle ?? null;
      }
      if (this.handle) {
        this.access = await readAccess(this.handle, false).catch(() => 'denied' as const);
        // Read access kept from an earlier visit: the folder is read again at once (after this open resolves).
        if (this.access === 'granted') queueMicrotask(() => void this.resync());
      }
      return index;
    })();
    return this.#index;
  }

  async #work<T>(label: string, work: () => Promise<T>): Promise<T | null> {
    this.busy = label;
    this.error = '';
    try {
      return await work();
    } catch (err) {
      this.error = messageOf(err);
      return null;
    } finally {
      this.busy = '';
    }
  }

  async #save(index: NoteIndex): Promise<void> {
    const saved = Date.now();
    await saveStoredIndex({ bytes: index.bytes(), folder: this.folder, saved, ...(this.handle ? { handle: this.handle } : {}) });
    this.saved = saved;
  }

  /** Makes the index hold the uploaded folder's notes and saves it. */
  pick(files: Iterable<PickedFile>): Promise<void | null> {
    return this.#work('Indexing notes…', () => this.#sync(files, null));
  }

  /** Lets the user choose a folder with the browser's folder picker, indexes it and keeps its handle. */
  async chooseFolder(): Promise<void | null> {
    const picker = directoryPicker();
    if (!picker) return null;
    let handle: FolderHandle;
    try {
      handle = await picker({ mode: 'read' });
    } catch (err) {
      // Closing the picker rejects with AbortError: nothing to do.
      if (err instanceof DOMException && err.name === 'AbortError') return null;
      this.error = messageOf(err);
      return null;
    }
    return this.#work('Reading the folder…', async () => this.#sync(await filesOfFolder(handle), handle));
  }

  /** Reads the kept folder again and re-indexes what changed; asks for read access when called from a click. */
  resync(interactive = false): Promise<void | null> {
    const handle = this.handle;
    if (!handle) return Promise.resolve(null);
    return this.#work('Re-reading the folder…', async () => {
      this.access = await readAccess(handle, interactive);
      if (this.access !== 'granted') return;
      await this.#sync(await filesOfFolder(handle), handle);
    });
  }

  /** Makes the index hold exactly these files' notes (only added and changed ones indexed) and saves it with `handle`. */
  async #sync(files: Iterable<PickedFile>, handle: FolderHandle | null): Promise<void> {
    const index = await this.open();
    const { notes, skipped, folder } = await readNoteFiles(files);
    if (notes.length === 0) throw new Error(`no .md notes in the picked folder${skipped.length ? ` (${skipped.length} skipped)` : ''}`);
    this.lastSync = await index.sync(notes);
    this.skipped = skipped;
    this.folder = folder;
    this.notes = index.notes();
    this.restored = false;
    this.handle = handle;
    this.access = handle ? 'granted' : null;
    await this.#save(index);
  }

  clear(): Promise<void | null> {
    return this.#work('Clearing the index…', async () => {
      const index = await this.open();
      await index.sync([]);
      await clearStoredIndex();
      this.notes = [];
      this.folder = '';
      this.saved = null;
      this.lastSync = null;
      this.skipped = [];
      this.restored = false;
      this.handle = null;
      this.access = null;
    });
  }

  /** Which notes the index holds (restoring it first). */
  async identity(): Promise<NotesIdentity> {
    return notesIdentity((await this.open()).notes());
  }

  /**
   * A stored or shared retrieval eval, its BM25 ranks searched again when this index holds the
   * very notes it was searched over; as it was otherwise. `here` says which notes the index holds.
   */
  async recompute(stored: StoredRetrieval, pairs: readonly ExpansionPair[], signal?: AbortSignal): Promise<{ retrieval: StoredRetrieval; here: NotesIdentity }> {
    const index = await this.open();
    const here = await notesIdentity(index.notes());
    if (!sameNotes(stored, here)) return { retrieval: stored, here };
    return { retrieval: await recomputeBm25(stored, pairs, { fts: (q, limit) => index.search(q, limit), vectors: null }, signal), here };
  }

  /**
   * Vectors for every note with the embedding model `model` (a hub repo id, transformers.js
   * feature-extraction on WebGPU where there is one), embedding only chunks not cached in the index; saves the index.
   */
  async vectors(model: string, dtype: EmbeddingDtype, onProgress: (p: EmbedProgress) => void, signal?: AbortSignal): Promise<NoteVectors> {
    const index = await this.open();
    const key = `${model} ${dtype}`;
    let loading = this.#embedders.get(key);
    if (!loading) {
      loading = loadTransformersEmbedder(model, { device, dtype, hubBase, ortWasmUrl: new URL(ortWasm, import.meta.url).href });
      this.#embedders.set(key, loading);
      loading.catch(() => this.#embedders.delete(key));
    }
    const vectors = await NoteVectors.build(index, await loading, { signal, onProgress });
    if (vectors.embedded > 0) await this.#save(index);
    return vectors;
  }
}

export const notesIndex = new NotesIndexState();
