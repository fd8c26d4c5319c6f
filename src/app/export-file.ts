// Where a page export is written, a piece at a time, without holding the file in memory: a file the user
// picks through the File System Access API (showSaveFilePicker, Chromium browsers) or, where that API is
// missing, a file in the origin private file system that is downloaded from disk (an object URL of the
// File) once complete. The page chooses the destination (the dialog needs the click's gesture) and posts
// it to the export worker, which opens and writes it (a picked handle's writable stream, or a sync access
// handle on the storage file), so no byte of the model passes through the page's thread.
// The browser alone runs this: e2e/gguf-export.e2e.ts covers both paths.
import { downloadBlob } from './download.ts';
import { formatBytes } from './format.ts';
import type { GgufSink } from './export-gguf.ts';

/** The parts of the File System Access API used here (not in TypeScript's DOM library). */
interface SaveFilePicker {
  showSaveFilePicker(options: { suggestedName: string; types: { description: string; accept: Record<string, string[]> }[] }): Promise<FileSystemFileHandle>;
}

/** Where an export goes, as the page posts it to the export worker (a file handle survives postMessage). */
export type ExportDestination = { via: 'picked'; handle: FileSystemFileHandle } | { via: 'storage'; fileName: string };

/** Where a finished export went: the name of the picked file, or the file handed to the browser's downloads. */
export interface ExportedFile {
  via: 'picked' | 'download';
  name: string;
}

/** OPFS folder of the fallback path; only the latest export is kept there. */
const EXPORTS = 'exports';

/** Whether the save dialog exists here: otherwise exports go through the browser's storage and a download. */
export const canPickSaveFile = (): boolean => typeof (globalThis as Partial<SaveFilePicker>).showSaveFilePicker === 'function';

/**
 * The save dialog where the browser has one (call it straight from the click: the dialog needs the user's
 * gesture; it throws an AbortError when the user closes it), else the browser's storage.
 */
export async function chooseDestination(fileName: string): Promise<ExportDestination> {
  if (!canPickSaveFile()) return { via: 'storage', fileName };
  const handle = await (globalThis as unknown as SaveFilePicker).showSaveFilePicker({
    suggestedName: fileName,
    types: [{ description: 'GGUF model file', accept: { 'application/octet-stream': ['.gguf'] } }],
  });
  return { via: 'picked', handle };
}

/** In the export worker: a sink writing `size` bytes to the destination. */
export function openDestinationSink(destination: ExportDestination, size: number): Promise<GgufSink> {
  return destination.via === 'picked' ? pickedSink(destination.handle) : storageSink(destination.fileName, size);
}

async function pickedSink(handle: FileSystemFileHandle): Promise<GgufSink> {
  // The stream writes a swap copy that replaces the file on close; abort discards it.
  const stream = await handle.createWritable();
  return {
    write: (bytes) => stream.write(bytes as Uint8Array<ArrayBuffer>),
    close: () => stream.close(),
    abort: () => stream.abort(),
  };
}

/**
 * A file in the origin private file system, replacing the previous export, refused when it cannot fit;
 * written in place through a sync access handle (dedicated workers have them), removed on abort.
 */
async function storageSink(fileName: string, size: number): Promise<GgufSink> {
  const root = await navigator.storage.getDirectory();
  await root.removeEntry(EXPORTS, { recursive: true }).catch((error: unknown) => {
    if (!(error instanceof DOMException && error.name === 'NotFoundError')) throw error;
  });
  const { quota, usage } = await navigator.storage.estimate();
  if (quota !== undefined && usage !== undefined && quota - usage < size) {
    throw new Error(`${fileName} needs ${formatBytes(size)} of this browser's storage, ${formatBytes(quota - usage)} is free: delete cached models (Model → cache) or use a browser with a save dialog (Chrome, Edge)`);
  }
  const folder = await root.getDirectoryHandle(EXPORTS, { create: true });
  const access = await (await folder.getFileHandle(fileName, { create: true })).createSyncAccessHandle();
  let at = 0;
  return {
    write: async (bytes) => {
      const wrote = access.write(bytes as Uint8Array<ArrayBuffer>, { at });
      if (wrote !== bytes.byteLength) throw new Error(`${EXPORTS}/${fileName}: wrote ${wrote} of ${bytes.byteLength} bytes at offset ${at} (storage full?)`);
      at += wrote;
    },
    close: async () => {
      access.flush();
      access.close();
    },
    abort: async () => {
      access.close();
      await folder.removeEntry(fileName);
    },
  };
}

/** In the page, after the worker closed the file: starts the download of a stored export and says where it went. */
export async function deliverExport(destination: ExportDestination): Promise<ExportedFile> {
  if (destination.via === 'picked') return { via: 'picked', name: destination.handle.name };
  const folder = await (await navigator.storage.getDirectory()).getDirectoryHandle(EXPORTS);
  downloadBlob(destination.fileName, await (await folder.getFileHandle(destination.fileName)).getFile());
  return { via: 'download', name: destination.fileName };
}
