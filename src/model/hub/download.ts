// Downloads one hub file into a cache, resuming a partial file with an HTTP Range request,
// with smoothed progress, cancellation that keeps the partial, and errors a user can act on.
// With the hub's listing at hand, a stored copy of another size or content id is outdated (cut
// short, or replaced by a new revision) and fetched again; without it (offline) the cache is trusted.
import type { ByteSource } from '../byte-source.ts';
import { MemoryCache, type CacheFileMeta, type CacheKey, type ModelCache, type PartialFile, type StoredFile } from './cache.ts';
import type { RemoteFile } from './listing.ts';
import { RateMeter, type DownloadProgress } from './progress.ts';
import type { HubFile } from './resolve.ts';

export type HubErrorKind = 'not-found' | 'gated' | 'network' | 'http';

/** A download failure; `kind` tells the UI what to offer (retry for network, a link to the hub for gated). */
export class HubError extends Error {
  constructor(
    readonly kind: HubErrorKind,
    readonly file: HubFile,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'HubError';
  }
}

export interface DownloadOptions {
  signal?: AbortSignal;
  /** Called at most every 100 ms, and once at the end. */
  onProgress?: (progress: DownloadProgress) => void;
  /** Where the file is kept and resumed from; without one it lives in memory for this call only. */
  cache?: ModelCache;
  /** What the hub's listing says the file is now; null or absent: unknown (offline), the cache is trusted. */
  expected?: RemoteFile | null;
}

/** The file's bytes, and whether they came from the cache without a request. */
export interface Fetched {
  source: ByteSource;
  cached: boolean;
}

const PROGRESS_INTERVAL_MS = 100;

/** Whether a stored copy is not the file the hub lists now (another size, another content id, or one never recorded). */
function outdated(stored: StoredFile, expected: RemoteFile): boolean {
  if (expected.oid !== null && stored.oid !== expected.oid) return true;
  if (expected.size === null) return false;
  if (stored.complete) return stored.bytes !== expected.size;
  return stored.bytes > expected.size || (stored.size !== null && stored.size !== expected.size);
}

/**
 * The file as a byte source, from the cache when it is complete there (and, with `expected`, the
 * file the hub lists), else downloaded into the cache (continuing a partial file of the same
 * version). A file is marked complete only when it has the size the listing or the server gave.
 * Cancelling through `signal` rejects with the signal's reason and keeps what arrived for the next call.
 */
export async function fetchFile(file: HubFile, options: DownloadOptions = {}): Promise<Fetched> {
  const { signal, onProgress } = options;
  const expected = options.expected ?? null;
  const cache = options.cache ?? new MemoryCache();
  const key: CacheKey = { repo: file.repo, revision: file.revision, file: file.file };
  const stored = expected && (await cache.stat(key));
  if (stored && outdated(stored, expected)) await cache.delete(key);
  const cached = await cache.get(key);
  if (cached) {
    onProgress?.({ loaded: cached.size, total: cached.size, rate: 0, etaSeconds: 0 });
    return { source: cached, cached: true };
  }
  const { response, offset, meta } = await open(file, await cache.partial(key), expected, signal);
  const writer = await cache.write(key, meta, offset);
  const meter = new RateMeter(offset, meta.size);
  let lastEmit = -Infinity;
  const emit = (final: boolean) => {
    const now = performance.now();
    if (!onProgress || (!final && now - lastEmit < PROGRESS_INTERVAL_MS)) return;
    lastEmit = now;
    onProgress(meter.update(writer.written));
  };
  emit(true);
  const reader = response.body!.getReader();
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (error) {
      await writer.close();
      throw failure(file, error, writer.written, signal);
    }
    if (chunk.done) break;
    if (meta.size !== null && writer.written + chunk.value.byteLength > meta.size) {
      await reader.cancel().catch(() => {});
      await writer.close();
      throw new HubError('http', file, `download failed: ${file.repo}/${file.file}: the server sent more than the ${meta.size} bytes expected (will resume)`);
    }
    try {
      await writer.append(chunk.value);
    } catch (error) {
      await reader.cancel().catch(() => {});
      await writer.close();
      throw new Error(`could not store ${file.repo}/${file.file} at byte ${writer.written}: ${describe(error)}`, { cause: error });
    }
    emit(false);
  }
  if (meta.size !== null && writer.written !== meta.size) {
    await writer.close();
    const announced = contentLength(response);
    const reason =
      announced !== null && offset + announced === writer.written
        ? `the server sent ${writer.written} bytes but the hub lists ${meta.size}`
        : `the connection closed at byte ${writer.written} of ${meta.size}`;
    throw new HubError('network', file, `download failed: ${file.repo}/${file.file}: ${reason} (will resume)`);
  }
  await writer.finalize();
  emit(true);
  const source = await cache.get(key);
  if (!source) throw new Error(`${file.repo}/${file.file}: the cache lost the file right after storing it`);
  return { source, cached: false };
}

/** fetchFile's bytes alone. */
export async function download(file: HubFile, options: DownloadOptions = {}): Promise<ByteSource> {
  return (await fetchFile(file, options)).source;
}

/** All bytes of a (small) source parsed as JSON; errors name the file. */
export async function readJson(source: ByteSource): Promise<unknown> {
  const text = new TextDecoder().decode(await source.read(0, source.size));
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${source.name}: not valid JSON (${describe(error)})`);
  }
}

interface Opened {
  response: Response;
  /** Where the response body starts in the file. */
  offset: number;
  meta: CacheFileMeta;
}

// A partial file continues only when the server returns exactly the bytes after it of the
// same file (same ETag and size when both are known); anything else starts over from byte 0.
// The listing's size, when known, is the one a download must reach: a server (or a proxy) that
// announces fewer bytes has not sent the whole file.
async function open(file: HubFile, partial: PartialFile | null, expected: RemoteFile | null, signal: AbortSignal | undefined): Promise<Opened> {
  const offset = partial?.bytes ?? 0;
  const oid = expected?.oid ?? null;
  const response = await request(file, offset, signal);
  if (partial && offset > 0) {
    if (response.status === 206) {
      const length = contentLength(response);
      const range = contentRange(response) ?? { start: offset, total: length === null ? null : offset + length };
      const etag = response.headers.get('etag');
      const same =
        range.start === offset &&
        (partial.size === null || range.total === null || partial.size === range.total) &&
        (partial.etag === null || etag === null || partial.etag === etag);
      if (same) return { response, offset, meta: { size: expected?.size ?? range.total ?? partial.size, etag: etag ?? partial.etag, oid } };
    }
    if (response.status === 206 || response.status === 416) {
      await response.body?.cancel();
      return open(file, null, expected, signal);
    }
  }
  if (!response.ok) throw await statusError(file, response);
  return { response, offset: 0, meta: { size: expected?.size ?? contentLength(response), etag: response.headers.get('etag'), oid } };
}

// no-store: the browser's HTTP cache would keep a second copy of every weight file, and with a
// partial entry of its own it rewrites our Range requests into sub-ranges (seen in Chromium).
async function request(file: HubFile, offset: number, signal: AbortSignal | undefined): Promise<Response> {
  try {
    return await fetch(file.url, { signal, cache: 'no-store', headers: offset > 0 ? { Range: `bytes=${offset}-` } : {} });
  } catch (error) {
    throw failure(file, error, offset, signal);
  }
}

function failure(file: HubFile, error: unknown, stored: number, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return signal.reason;
  const kept = stored > 0 ? `, ${stored} bytes kept` : '';
  return new HubError('network', file, `download failed: ${file.repo}/${file.file}: ${describe(error)} (will resume${kept})`, {
    cause: error,
  });
}

async function statusError(file: HubFile, response: Response): Promise<HubError> {
  await response.body?.cancel();
  const { repo, file: name } = file;
  switch (response.status) {
    case 404:
      return new HubError('not-found', file, `file not found in repo ${repo}: ${name}`);
    case 401:
    case 403:
      return new HubError('gated', file, `repo ${repo} is gated or private: log in / accept the license on the hub (${name})`);
    default:
      return new HubError('http', file, `download failed: ${repo}/${name}: HTTP ${response.status} ${response.statusText} (will resume)`);
  }
}

// A compressed body's length says nothing about the file's size.
function contentLength(response: Response): number | null {
  const encoding = response.headers.get('content-encoding');
  if (encoding && encoding !== 'identity') return null;
  const value = Number(response.headers.get('content-length') ?? NaN);
  return Number.isSafeInteger(value) && value >= 0 ? value : null;
}

function contentRange(response: Response): { start: number; total: number | null } | null {
  const match = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(response.headers.get('content-range')?.trim() ?? '');
  if (!match) return null;
  return { start: Number(match[1]), total: match[2] === '*' ? null : Number(match[2]) };
}

const describe = (error: unknown): string =>
  error instanceof Error ? (error.cause instanceof Error ? `${error.message} (${error.cause.message})` : error.message) : String(error);
