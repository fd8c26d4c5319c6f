// The page's note index for the retrieval eval: restored from IndexedDB on first use, synced
// with a picked folder (only changed notes re-indexed), saved after every change, and the
// embedding models that vector search loads (one per model id, kept while the page lives).
import { messageOf } from '../../app/format.ts';
import type { EmbeddingDtype } from '../../retrieval/embed.ts';
import { loadTransformersEmbedder, type LoadedEmbedder } from '../../retrieval/embed-transformers.ts';
import { readNoteFiles, type PickedFile } from '../../retrieval/folder-files.ts';
import { clearStoredIndex, loadStoredIndex, saveStoredIndex } from '../../retrieval/index-store.ts';
import { NoteIndex, type IndexedNote, type SyncReport } from '../../retrieval/note-index.ts';
import type { SkippedFile } from '../../retrieval/notes.ts';
import { NoteVectors, type EmbedProgress } from '../../retrieval/vectors.ts';
import { hubBase } from '../engine/engine.svelte.ts';
import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';

/** WebGPU where the browser has it; onnxruntime-web's CPU (wasm) otherwise. */
const device = typeof navigator !== 'undefined' && 'gpu' in navigator ? 'webgpu' : 'wasm';

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
    await saveStoredIndex({ bytes: index.bytes(), folder: this.folder, saved });
    this.saved = saved;
  }

  /** Makes the index hold the picked folder's notes and saves it. */
  pick(files: Iterable<PickedFile>): Promise<void | null> {
    return this.#work('Indexing notes…', async () => {
      const index = await this.open();
      const { notes, skipped, folder } = await readNoteFiles(files);
      if (notes.length === 0) throw new Error(`no .md notes in the picked folder${skipped.length ? ` (${skipped.length} skipped)` : ''}`);
      this.lastSync = await index.sync(notes);
      this.skipped = skipped;
      this.folder = folder;
      this.notes = index.notes();
      this.restored = false;
      await this.#save(index);
    });
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
    });
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
