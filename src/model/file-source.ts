// Node-only ByteSource over a file handle (CLI and tests); kept apart so browser bundles never see node:fs.
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { ByteSource } from './byte-source.ts';

export function fileHandleSource(handle: FileHandle, size: number, name: string): ByteSource {
  const source: ByteSource = {
    name,
    size,
    read: async (offset, length) => {
      if (offset < 0 || length < 0 || offset + length > size) {
        throw new Error(`${name}: read of ${length} bytes at ${offset} is past its end (${size} bytes)`);
      }
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(out, done, length - done, offset + done);
        if (bytesRead === 0) throw new Error(`${name}: file ended at ${offset + done} while reading ${length} bytes at ${offset}`);
        done += bytesRead;
      }
      return out;
    },
  };
  return source;
}

/** Opens `path`; call `close()` when done reading. Refuses a directory (or a pipe, which would block) by name. */
export async function openFileSource(path: string): Promise<ByteSource & { close(): Promise<void> }> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'ENOENT' ? new Error(`${path}: no such file`) : error;
  });
  if (!info.isFile()) throw new Error(`${path} is ${info.isDirectory() ? 'a directory' : 'not a regular file'}, expected a file`);
  const handle = await open(path, 'r');
  const { size } = await handle.stat();
  return { ...fileHandleSource(handle, size, path), close: () => handle.close() };
}
