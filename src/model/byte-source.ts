// Random access to the bytes of a (possibly multi-gigabyte) file without holding it in one buffer.

export interface ByteSource {
  /** Shown in error messages (a file name or URL). */
  readonly name: string;
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

function checkRange(source: ByteSource, offset: number, length: number): void {
  if (offset < 0 || length < 0 || offset + length > source.size) {
    throw new Error(`${source.name}: read of ${length} bytes at ${offset} is past its end (${source.size} bytes)`);
  }
}

/** Bytes already in memory (tests, small files). */
export function bytesSource(bytes: Uint8Array, name = 'bytes'): ByteSource {
  const source: ByteSource = {
    name,
    size: bytes.byteLength,
    read: async (offset, length) => {
      checkRange(source, offset, length);
      return bytes.subarray(offset, offset + length);
    },
  };
  return source;
}

/** A browser Blob or File (e.g. from an <input type=file> or OPFS); only the requested slice is loaded. */
export function blobSource(blob: Blob, name = blob instanceof File ? blob.name : 'blob'): ByteSource {
  const source: ByteSource = {
    name,
    size: blob.size,
    read: async (offset, length) => {
      checkRange(source, offset, length);
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
  };
  return source;
}
