// Where a page export is written, a piece at a time, without holding the file in memory: a file the user
// picks through the File System Access API (showSaveFilePicker, Chromium browsers) or, where that API is
// missing, a file in the origin private file system that is downloaded from disk (an object URL of the
// File) once complete. The browser alone runs this: e2e/gguf-export.e2e.ts covers both paths.
import { downloadBlob } from './download.ts';
import { formatBytes } from './format.ts';
import type { GgufSink } from './export-gguf.ts';

/** The parts of the File System Access API used here (not in TypeScript's DOM library). */
interface SaveFilePicker {
  showSaveFilePicker(options: { suggestedName: string; types: { description: string; accept: Record<string, string[]> }[] }): Promise<FileSystemFileHandle>;
}

/** Where a finished export went: the name of the picked file, or the file handed to the browser's downloads. */
export interface ExportedFile {
  via: 'picked' | 'download';
  name: string;
}

export interface ExportTarget {
  sink: GgufSink;
  /** After sink.close(): delivers the file (starts the download) and says where it is. */
  finish(): Promise<ExportedFile>;
}

/** OPFS folder of the fallback path; only the latest export is kept there. */
const EXPORTS = 'exports';

function streamSink(stream: FileSystemWritableFileStream): GgufSink {
  return {
    write: (bytes) => stream.write(bytes as Uint8Array<ArrayBuffer>),
    close: () => stream.close(),
    abort: () => stream.abort(),
  };
}

/** Whether the save dialog exists here: otherwise exports go through the browser's storage and a download. */
export const canPickSaveFile = (): boolean => typeof (globalThis as Partial<SaveFilePicker>).showSaveFilePicker === 'function';

/**
 * Asks where to save `fileName` (call it straight from the click: the dialog needs the user's gesture).
 * Throws an AbortError when the user closes the dialog.
 */
async function pickedTarget(fileName: string): Promise<ExportTarget> {
  const handle = await (globalThis as unknown as SaveFilePicker).showSaveFilePicker({
    suggestedName: fileName,
    types: [{ description: 'GGUF model file', accept: { 'application/octet-stream': ['.gguf'] } }],
  });
  const stream = await handle.createWritable();
  return { sink: streamSink(stream), finish: async () => ({ via: 'picked', name: handle.name }) };
}

/** A file in the origin private file system, replacing the previous export, refused when it cannot fit. */
async function storageTarget(fileName: string, size: number): Promise<ExportTarget> {
  const root = await navigator.storage.getDirectory();
  await root.removeEntry(EXPORTS, { recursive: true }).catch((error: unknown) => {
    if (!(error instanceof DOMException && error.name === 'NotFoundError')) throw error;
  });
  const { quota, usage } = await navigator.storage.estimate();
  if (quota !== undefined && usage !== undefined && quota - usage < size) {
    throw new Error(`${fileName} needs ${formatBytes(size)} of this browser's storage, ${formatBytes(quota - usage)} is free: delete cached models (Model → cache) or use a browser with a save dialog (Chrome, Edge)`);
  }
  const folder = await root.getDirectoryHandle(EXPORTS, { create: true });
  const handle = await folder.getFileHandle(fileName, { create: true });
  const stream = await handle.createWritable();
  return {
    sink: streamSink(stream),
    finish: async () => {
      downloadBlob(fileName, await handle.getFile());
      return { via: 'download', name: fileName };
    },
  };
}

/** The save dialog where the browser has one, else its storage and a download. */
export function openExportTarget(fileName: string, size: () => Promise<number>): Promise<ExportTarget> {
  return canPickSaveFile() ? pickedTarget(fileName) : size().then((bytes) => storageTarget(fileName, bytes));
}
