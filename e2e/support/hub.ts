// A stand-in for the Hugging Face hub in e2e tests: repos served from folders with the hub's URL
// layout (`<url>/<owner>/<name>/resolve/<revision>/<file>`), its file-list API
// (`<url>/api/models/<owner>/<name>/revision/<revision>` → siblings with size, git blob id and, for
// .safetensors, LFS sha256, as `?blobs=true` answers), ETags, Range requests, CORS (the page is on
// another port), a log of every request, and on demand a connection dropped mid-file, a file sent
// short as if whole, or no answer at all (offline). Writing a file in a served folder is a new
// revision on `main`: its listing, ETag and bytes change.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface HubRequest {
  repo: string;
  /** The file asked for, or '(api)' for the file list. */
  file: string;
  /** The Range header, when one was sent. */
  range: string | null;
}

export interface HubServer {
  /** The base to pass as ?hub=. */
  url: string;
  requests: HubRequest[];
  /** The next full download of `file` sends its headers, then `bytes` bytes, then drops the connection. */
  dropNext(file: string, bytes: number): void;
  /** The next full download of `file` is its first `bytes` bytes, announced (Content-Length) as the whole file. */
  truncateNext(file: string, bytes: number): void;
  /** While true every request's connection is reset unanswered, as when the hub cannot be reached. */
  offline: boolean;
  close(): Promise<void>;
}

interface Version {
  size: number;
  mtimeMs: number;
  blobId: string;
  sha256: string;
}

// Hashes per file version, so a listing does not hash every weight file on each request.
const versions = new Map<string, Version>();

function version(path: string): Version {
  const { size, mtimeMs } = statSync(path);
  const known = versions.get(path);
  if (known?.size === size && known.mtimeMs === mtimeMs) return known;
  const bytes = readFileSync(path);
  const blobId = createHash('sha1').update(`blob ${size}\0`).update(bytes).digest('hex');
  const fresh = { size, mtimeMs, blobId, sha256: createHash('sha256').update(bytes).digest('hex') };
  versions.set(path, fresh);
  return fresh;
}

function sibling(folder: string, rfilename: string): object {
  const { size, blobId, sha256 } = version(join(folder, rfilename));
  return { rfilename, size, blobId, ...(rfilename.endsWith('.safetensors') ? { lfs: { sha256, size } } : {}) };
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'range',
  'access-control-expose-headers': 'content-length, content-range, etag, accept-ranges',
};

type Fault = { kind: 'drop' | 'truncate'; bytes: number } | undefined;

function serveFile(req: IncomingMessage, res: ServerResponse, path: string, fault: Fault): void {
  const { size, sha256 } = version(path);
  // The hub's ETag for an LFS file is its sha256.
  const headers = { ...CORS, 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes', etag: `"${sha256}"` };
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (range) {
    const start = Number(range[1]);
    if (start >= size) {
      res.writeHead(416, { ...headers, 'content-range': `bytes */${size}` }).end();
      return;
    }
    res.writeHead(206, { ...headers, 'content-length': size - start, 'content-range': `bytes ${start}-${size - 1}/${size}` });
    createReadStream(path, { start }).pipe(res);
    return;
  }
  if (fault?.kind === 'truncate') {
    res.writeHead(200, { ...headers, 'content-length': fault.bytes });
    createReadStream(path, { start: 0, end: fault.bytes - 1 }).pipe(res);
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': size });
  if (fault === undefined) {
    createReadStream(path).pipe(res);
    return;
  }
  // Flushed bytes first, then a reset connection: the browser sees a body cut short.
  createReadStream(path, { start: 0, end: fault.bytes - 1 })
    .on('end', () => setTimeout(() => res.socket?.destroy(), 100))
    .pipe(res, { end: false });
}

export function serveHub(repos: Record<string, string>): Promise<HubServer> {
  const requests: HubRequest[] = [];
  const faults = new Map<string, NonNullable<Fault>>();
  let offline = false;
  const server = createServer((req, res) => {
    if (offline) {
      req.socket.destroy();
      return;
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...CORS, 'access-control-allow-methods': 'GET' }).end();
      return;
    }
    const path = decodeURIComponent(new URL(req.url!, 'http://x').pathname);
    const api = /^\/models\/api\/models\/([^/]+\/[^/]+)\/revision\/main$/.exec(path);
    // Files may sit in subfolders (transformers.js reads onnx/model.onnx); never above the repo.
    const resolve = /^\/models\/([^/]+\/[^/]+)\/resolve\/main\/((?:(?!\.\.\/)[^/]+\/)*[^/]+)$/.exec(path);
    const repo = (api ?? resolve)?.[1] ?? '';
    const folder = repos[repo];
    requests.push({ repo, file: resolve?.[2] ?? '(api)', range: req.headers.range ?? null });
    if (folder && api) {
      const names = readdirSync(folder, { withFileTypes: true }).filter((entry) => entry.isFile());
      const siblings = names.map((entry) => sibling(folder, entry.name));
      res.writeHead(200, { ...CORS, 'content-type': 'application/json' }).end(JSON.stringify({ id: repo, siblings }));
      return;
    }
    const file = folder && resolve && join(folder, resolve[2]!);
    if (!file || !existsSync(file)) {
      res.writeHead(404, CORS).end('not found');
      return;
    }
    const fault = req.headers.range ? undefined : faults.get(resolve![2]!);
    if (fault) faults.delete(resolve![2]!);
    serveFile(req, res, file, fault);
  });
  return new Promise((done) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (!address || typeof address === 'string') throw new Error('hub server has no port');
      done({
        url: `http://127.0.0.1:${address.port}/models`,
        requests,
        dropNext: (file, bytes) => void faults.set(file, { kind: 'drop', bytes }),
        truncateNext: (file, bytes) => void faults.set(file, { kind: 'truncate', bytes }),
        get offline() {
          return offline;
        },
        set offline(value) {
          offline = value;
        },
        close: () => {
          server.closeAllConnections();
          return new Promise((closed) => server.close(() => closed()));
        },
      });
    }),
  );
}
