// The browser cache: the origin private file system, one folder per repo and revision
// (`hub/<repo>@<revision>`, URL-encoded), each file stored under its encoded name with a
// sidecar `<name>#meta` = {size, etag, oid, complete, date}. The sidecar is written before the first
// byte and marked complete last, so a file without `complete: true` is a partial to resume.
// Only a browser can run this: an e2e test covers it.
import { blobSource, type ByteSource } from '../byte-source.ts';
import {
  checkComplete,
  checkOffset,
  keyName,
  type CacheEntry,
  type CacheFileMeta,
  type CacheKey,
  type CacheWriter,
  type ModelCache,
  type PartialFile,
  type StoredFile,
} from './cache.ts';

// encodeURIComponent never emits '#', so no encoded hub file name can end like a sidecar.
const META = '#meta';

interface Meta extends CacheFileMeta {
  complete: boolean;
  date: number;
}

interface Stored {
  meta: Meta;
  file: File;
}

interface Sink {
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

const folderName = (key: CacheKey) => `${encodeURIComponent(key.repo)}@${encodeURIComponent(key.revision)}`;

async function orNull<T>(promise: Promise<T>): Promise<T | null> {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof DOMException && error.name === 'NotFoundError') return null;
    throw error;
  }
}

// In a dedicated worker a sync access handle writes in place; elsewhere a writable stream
// writes a swap copy that replaces the file on close, so close() is what keeps a partial.
async function openSink(handle: FileSystemFileHandle, offset: number): Promise<Sink> {
  let at = offset;
  // Typed as always present (the WebWorker lib), but a window's handles lack it.
  const createSync = (handle as Partial<FileSystemFileHandle>).createSyncAccessHandle;
  if (createSync) {
    const access = await createSync.call(handle);
    access.truncate(offset);
    return {
      write: async (chunk) => void (at += access.write(chunk, { at })),
      close: async () => {
        access.flush();
        access.close();
      },
    };
  }
  const stream = await handle.createWritable({ keepExistingData: offset > 0 });
  await stream.truncate(offset);
  return {
    write: async (chunk) => {
      await stream.write({ type: 'write', position: at, data: chunk as Uint8Array<ArrayBuffer> });
      at += chunk.byteLength;
    },
    close: () => stream.close(),
  };
}

async function writeMeta(folder: FileSystemDirectoryHandle, name: string, meta: Meta): Promise<void> {
  const sink = await openSink(await folder.getFileHandle(name + META, { create: true }), 0);
  await sink.write(new TextEncoder().encode(JSON.stringify(meta)));
  await sink.close();
}

async function readStored(folder: FileSystemDirectoryHandle, name: string): Promise<Stored | null> {
  const handle = await orNull(folder.getFileHandle(name));
  if (!handle) return null;
  const file = await handle.getFile();
  const metaHandle = await orNull(folder.getFileHandle(name + META));
  // Data without a sidecar (the tab closed between the two writes) is a partial of unknown size;
  // a sidecar written before content ids were kept has no oid.
  const fallback: Meta = { size: null, etag: null, oid: null, complete: false, date: file.lastModified };
  const meta = metaHandle ? ({ ...fallback, ...JSON.parse(await (await metaHandle.getFile()).text()) } as Meta) : fallback;
  return { meta: { ...meta, complete: meta.complete && file.size === meta.size }, file };
}

export class OpfsCache implements ModelCache {
  constructor(
    private readonly root: () => Promise<FileSystemDirectoryHandle> = async () =>
      (await navigator.storage.getDirectory()).getDirectoryHandle('hub', { create: true }),
  ) {}

  async #folder(key: CacheKey, create: boolean): Promise<FileSystemDirectoryHandle | null> {
    return orNull((await this.root()).getDirectoryHandle(folderName(key), { create }));
  }

  async #stored(key: CacheKey): Promise<Stored | null> {
    const folder = await this.#folder(key, false);
    return folder && readStored(folder, encodeURIComponent(key.file));
  }

  async has(key: CacheKey): Promise<boolean> {
    return (await this.#stored(key))?.meta.complete ?? false;
  }

  async get(key: CacheKey): Promise<ByteSource | null> {
    const stored = await this.#stored(key);
    return stored?.meta.complete ? blobSource(stored.file, keyName(key)) : null;
  }

  async partial(key: CacheKey): Promise<PartialFile | null> {
    const stored = await this.#stored(key);
    if (!stored || stored.meta.complete) return null;
    return { bytes: stored.file.size, size: stored.meta.size, etag: stored.meta.etag, oid: stored.meta.oid };
  }

  async stat(key: CacheKey): Promise<StoredFile | null> {
    const stored = await this.#stored(key);
    if (!stored) return null;
    const { size, etag, oid, complete } = stored.meta;
    return { bytes: stored.file.size, size, etag, oid, complete };
  }

  async write(key: CacheKey, meta: CacheFileMeta, offset: number): Promise<CacheWriter> {
    checkOffset(key, offset, (await this.partial(key))?.bytes ?? 0);
    const folder = (await this.#folder(key, true))!;
    const name = encodeURIComponent(key.file);
    await writeMeta(folder, name, { ...meta, complete: false, date: Date.now() });
    const sink = await openSink(await folder.getFileHandle(name, { create: true }), offset);
    let written = offset;
    let open = true;
    const close = async () => {
      if (open) await sink.close();
      open = false;
    };
    return {
      get written() {
        return written;
      },
      append: async (chunk) => {
        await sink.write(chunk);
        written += chunk.byteLength;
      },
      finalize: async () => {
        await close();
        checkComplete(key, meta, written);
        await writeMeta(folder, name, { size: written, etag: meta.etag, oid: meta.oid, complete: true, date: Date.now() });
      },
      close,
    };
  }

  async list(): Promise<CacheEntry[]> {
    const entries: CacheEntry[] = [];
    for await (const [folderEntry, folder] of (await this.root()).entries()) {
      if (folder.kind !== 'directory') continue;
      const [repo, revision] = folderEntry.split('@').map(decodeURIComponent);
      for await (const [name, handle] of (folder as FileSystemDirectoryHandle).entries()) {
        if (handle.kind !== 'file' || name.endsWith(META)) continue;
        const stored = await readStored(folder as FileSystemDirectoryHandle, name);
        if (!stored) continue;
        const { meta, file } = stored;
        entries.push({
          repo: repo!,
          revision: revision!,
          file: decodeURIComponent(name),
          bytes: file.size,
          size: meta.size,
          complete: meta.complete,
          date: Math.max(meta.date, file.lastModified),
        });
      }
    }
    return entries;
  }

  async delete(key: CacheKey): Promise<void> {
    const folder = await this.#folder(key, false);
    if (!folder) return;
    const name = encodeURIComponent(key.file);
    await orNull(folder.removeEntry(name));
    await orNull(folder.removeEntry(name + META));
    const left = await folder.keys().next();
    if (left.done) await (await this.root()).removeEntry(folderName(key));
  }

  async clear(): Promise<void> {
    const root = await this.root();
    const names: string[] = [];
    for await (const name of root.keys()) names.push(name);
    for (const name of names) await root.removeEntry(name, { recursive: true });
  }

  async totalBytes(): Promise<number> {
    return (await this.list()).reduce((sum, entry) => sum + entry.bytes, 0);
  }
}
