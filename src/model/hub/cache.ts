// Where downloaded hub files are kept between visits, complete or partial (for resume).
// Two implementations: OPFS in the browser (opfs-cache.ts) and memory here (tests, one-off loads).
import { bytesSource, type ByteSource } from '../byte-source.ts';

export interface CacheKey {
  repo: string;
  revision: string;
  file: string;
}

/** What the hub and the server said about a file when its download began. */
export interface CacheFileMeta {
  /** Expected size in bytes, null when neither the hub's listing nor the server said. */
  size: number | null;
  etag: string | null;
  /**
   * The hub's content id of the file at that time (listing.ts: LFS sha256, else git blob id), null
   * when the listing was not available: a later listing with another id means a new revision.
   */
  oid: string | null;
}

/** A stored file, complete or partial. */
export interface StoredFile extends CacheFileMeta {
  /** Bytes stored, counting from the start of the file. */
  bytes: number;
  complete: boolean;
}

/** A partial download: `bytes` are stored, counting from the start of the file. */
export interface PartialFile extends CacheFileMeta {
  bytes: number;
}

/** One row of the cache listing the UI shows. */
export interface CacheEntry extends CacheKey {
  bytes: number;
  /** Expected size (equals `bytes` once complete). */
  size: number | null;
  complete: boolean;
  /** Last write, ms since the epoch. */
  date: number;
}

export interface CacheWriter {
  /** Bytes stored so far, counting from the start of the file. */
  readonly written: number;
  append(chunk: Uint8Array): Promise<void>;
  /** Marks the file complete; fails, keeping it partial, when the expected size is known and differs. */
  finalize(): Promise<void>;
  /** Stops writing and keeps what was written as a partial file to resume later. */
  close(): Promise<void>;
}

export interface ModelCache {
  /** True when the file is stored complete. */
  has(key: CacheKey): Promise<boolean>;
  /** A complete file as a byte source (read piece by piece, never loaded whole), or null. */
  get(key: CacheKey): Promise<ByteSource | null>;
  /** The partial download of the file, or null when there is none (absent or complete). */
  partial(key: CacheKey): Promise<PartialFile | null>;
  /** What is stored of the file, complete or partial, or null when nothing is. */
  stat(key: CacheKey): Promise<StoredFile | null>;
  /** Starts writing at `offset`: 0 begins afresh, `partial(key).bytes` continues a partial file. */
  write(key: CacheKey, meta: CacheFileMeta, offset: number): Promise<CacheWriter>;
  list(): Promise<CacheEntry[]>;
  delete(key: CacheKey): Promise<void>;
  clear(): Promise<void>;
  /** Bytes stored, complete and partial. */
  totalBytes(): Promise<number>;
}

export const keyName = (key: CacheKey): string => `${key.repo}@${key.revision}/${key.file}`;

/** The check both implementations make before marking a file complete. */
export function checkComplete(key: CacheKey, meta: CacheFileMeta, written: number): void {
  if (meta.size !== null && written !== meta.size) {
    throw new Error(`${keyName(key)}: stored ${written} bytes but the server announced ${meta.size}`);
  }
}

export function checkOffset(key: CacheKey, offset: number, stored: number): void {
  if (offset !== 0 && offset !== stored) {
    throw new Error(`${keyName(key)}: cannot continue writing at byte ${offset}, ${stored} bytes are stored`);
  }
}

interface MemoryFile extends CacheFileMeta {
  chunks: Uint8Array[];
  bytes: number;
  complete: boolean;
  date: number;
}

export class MemoryCache implements ModelCache {
  readonly #files = new Map<string, { key: CacheKey; file: MemoryFile }>();

  async has(key: CacheKey): Promise<boolean> {
    return this.#files.get(keyName(key))?.file.complete ?? false;
  }

  async get(key: CacheKey): Promise<ByteSource | null> {
    const file = this.#files.get(keyName(key))?.file;
    if (!file?.complete) return null;
    if (file.chunks.length !== 1) file.chunks = [concat(file.chunks, file.bytes)];
    return bytesSource(file.chunks[0]!, keyName(key));
  }

  async partial(key: CacheKey): Promise<PartialFile | null> {
    const file = this.#files.get(keyName(key))?.file;
    return file && !file.complete ? { bytes: file.bytes, size: file.size, etag: file.etag, oid: file.oid } : null;
  }

  async stat(key: CacheKey): Promise<StoredFile | null> {
    const file = this.#files.get(keyName(key))?.file;
    return file ? { bytes: file.bytes, size: file.size, etag: file.etag, oid: file.oid, complete: file.complete } : null;
  }

  async write(key: CacheKey, meta: CacheFileMeta, offset: number): Promise<CacheWriter> {
    const name = keyName(key);
    const previous = this.#files.get(name)?.file;
    checkOffset(key, offset, previous && !previous.complete ? previous.bytes : 0);
    const file: MemoryFile =
      offset > 0 && previous
        ? { ...previous, ...meta, date: Date.now() }
        : { ...meta, chunks: [], bytes: 0, complete: false, date: Date.now() };
    this.#files.set(name, { key: { ...key }, file });
    return {
      get written() {
        return file.bytes;
      },
      append: async (chunk) => {
        file.chunks.push(chunk.slice());
        file.bytes += chunk.byteLength;
        file.date = Date.now();
      },
      finalize: async () => {
        checkComplete(key, file, file.bytes);
        file.complete = true;
      },
      close: async () => {},
    };
  }

  async list(): Promise<CacheEntry[]> {
    return [...this.#files.values()].map(({ key, file }) => ({
      ...key,
      bytes: file.bytes,
      size: file.complete ? file.bytes : file.size,
      complete: file.complete,
      date: file.date,
    }));
  }

  async delete(key: CacheKey): Promise<void> {
    this.#files.delete(keyName(key));
  }

  async clear(): Promise<void> {
    this.#files.clear();
  }

  async totalBytes(): Promise<number> {
    return [...this.#files.values()].reduce((sum, { file }) => sum + file.bytes, 0);
  }
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}
