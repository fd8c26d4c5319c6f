// Streaming UTF-8 JSONL reading: bytes in, numbered lines out, holding only the current
// chunk and the unfinished line in memory (a 200 MB file imports in constant memory).

export interface Line {
  /** The line without its `\n` or `\r\n`. */
  text: string;
  /** 1-based line number in the file. */
  line: number;
  /** Bytes of the file read so far (chunk granularity), for progress. */
  bytes: number;
}

/**
 * Split a byte stream into lines. A multi-byte character split across chunks is decoded
 * once whole (TextDecoder in streaming mode); a leading UTF-8 BOM is dropped; `\r\n` and
 * `\n` both end a line; a last line without a newline is still returned.
 */
export async function* decodeLines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Line> {
  const decoder = new TextDecoder('utf-8');
  let pending = '';
  let line = 0;
  let bytes = 0;
  for await (const chunk of chunks) {
    bytes += chunk.byteLength;
    pending += decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n', start)) {
      yield { text: withoutCr(pending.slice(start, end)), line: ++line, bytes };
      start = end + 1;
    }
    pending = pending.slice(start);
  }
  pending += decoder.decode();
  if (pending !== '') yield { text: withoutCr(pending), line: ++line, bytes };
}

function withoutCr(text: string): string {
  return text.endsWith('\r') ? text.slice(0, -1) : text;
}

/**
 * The chunks of a Blob through its reader (async iteration of ReadableStream is missing in
 * some browsers). Aborting `signal` cancels the read and throws the abort reason.
 */
export async function* blobChunks(blob: Blob, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const reader = blob.stream().getReader();
  try {
    for (;;) {
      signal?.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
