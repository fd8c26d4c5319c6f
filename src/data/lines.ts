// Streaming UTF-8 JSONL reading: bytes in, numbered lines out, holding only the current
// chunk and the unfinished line in memory (a 200 MB file imports in constant memory).
// Lines are cut on bytes before decoding: CR and LF bytes never occur inside a multi-byte
// UTF-8 sequence, so each line can be decoded on its own and a bad byte blamed on its line.

export interface Line {
  /** The line without its line break. */
  text: string;
  /** 1-based line number in the file. */
  line: number;
  /** Bytes of the file read so far (chunk granularity), for progress. */
  bytes: number;
  /** Set when the line is not valid UTF-8: says which byte; `text` is then a lossy decoding. */
  error?: string;
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Split a byte stream into lines. `\n`, `\r\n` and a lone `\r` (old Mac files) each end a
 * line, also when a `\r\n` is split across chunks; a leading UTF-8 BOM is dropped; a last
 * line without a line break is still returned. Invalid UTF-8 is reported on its line (see
 * `Line.error`), never silently replaced.
 */
export async function* decodeLines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Line> {
  let pending: Uint8Array[] = [];
  let line = 0;
  let bytes = 0;
  // The previous chunk ended on a `\r`: an `\n` opening this one belongs to the same break.
  let afterCr = false;
  for await (const chunk of chunks) {
    if (chunk.length === 0) continue;
    bytes += chunk.byteLength;
    let start = afterCr && chunk[0] === LF ? 1 : 0;
    afterCr = false;
    let lf = chunk.indexOf(LF, start);
    let cr = chunk.indexOf(CR, start);
    while (lf >= 0 || cr >= 0) {
      const end = lf < 0 ? cr : cr < 0 ? lf : Math.min(lf, cr);
      pending.push(chunk.subarray(start, end));
      yield decodeLine(joined(pending), ++line, bytes);
      pending = [];
      start = end + 1;
      if (chunk[end] === CR) {
        if (start === chunk.length) afterCr = true;
        else if (chunk[start] === LF) start++;
      }
      if (lf >= 0 && lf < start) lf = chunk.indexOf(LF, start);
      if (cr >= 0 && cr < start) cr = chunk.indexOf(CR, start);
    }
    // A copy, so the unfinished line does not keep the whole chunk alive.
    if (start < chunk.length) pending.push(chunk.slice(start));
  }
  if (pending.length > 0) yield decodeLine(joined(pending), ++line, bytes);
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lossyDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

function decodeLine(raw: Uint8Array, line: number, bytes: number): Line {
  const body = line === 1 && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf ? raw.subarray(3) : raw;
  try {
    return { text: decoder.decode(body), line, bytes };
  } catch {
    const at = firstInvalidByte(body);
    const byte = body[at]!.toString(16).toUpperCase().padStart(2, '0');
    return { text: lossyDecoder.decode(body), line, bytes, error: `invalid UTF-8 at byte ${at + 1} of the line (0x${byte}); expected UTF-8 text` };
  }
}

function joined(pieces: Uint8Array[]): Uint8Array {
  if (pieces.length === 1) return pieces[0]!;
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

/**
 * Offset of the first byte that starts an ill-formed sequence (the Unicode standard's table of
 * well-formed UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF); only called
 * once TextDecoder has refused the line.
 */
function firstInvalidByte(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i++;
      continue;
    }
    let trail: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) trail = 1;
    else if (lead >= 0xe0 && lead <= 0xef) {
      trail = 2;
      if (lead === 0xe0) low = 0xa0;
      if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      trail = 3;
      if (lead === 0xf0) low = 0x90;
      if (lead === 0xf4) high = 0x8f;
    } else return i;
    for (let k = 1; k <= trail; k++) {
      const next = bytes[i + k];
      if (next === undefined || next < (k === 1 ? low : 0x80) || next > (k === 1 ? high : 0xbf)) return i;
    }
    i += trail + 1;
  }
  return bytes.length;
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
