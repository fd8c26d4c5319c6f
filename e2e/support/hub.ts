// A stand-in for the Hugging Face hub in e2e tests: repos served from folders with the hub's URL
// layout (`<url>/<owner>/<name>/resolve/<revision>/<file>`), its file-list API
// (`<url>/api/models/<owner>/<name>/revision/<revision>` → siblings), Range requests, CORS (the
// page is on another port), a log of every request, and a connection dropped mid-file on demand.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
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
  close(): Promise<void>;
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'range',
  'access-control-expose-headers': 'content-length, content-range, etag, accept-ranges',
};

function serveFile(req: IncomingMessage, res: ServerResponse, path: string, drop: number | undefined): void {
  const { size, mtimeMs } = statSync(path);
  const headers = { ...CORS, 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes', etag: `"${size}-${Math.floor(mtimeMs)}"` };
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
  res.writeHead(200, { ...headers, 'content-length': size });
  if (drop === undefined) {
    createReadStream(path).pipe(res);
    return;
  }
  // Flushed bytes first, then a reset connection: the browser sees a body cut short.
  createReadStream(path, { start: 0, end: drop - 1 })
    .on('end', () => setTimeout(() => res.socket?.destroy(), 100))
    .pipe(res, { end: false });
}

export function serveHub(repos: Record<string, string>): Promise<HubServer> {
  const requests: HubRequest[] = [];
  const drops = new Map<string, number>();
  const server = createServer((req, res) => {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...CORS, 'access-control-allow-methods': 'GET' }).end();
      return;
    }
    const path = decodeURIComponent(new URL(req.url!, 'http://x').pathname);
    const api = /^\/models\/api\/models\/([^/]+\/[^/]+)\/revision\/main$/.exec(path);
    const resolve = /^\/models\/([^/]+\/[^/]+)\/resolve\/main\/([^/]+)$/.exec(path);
    const repo = (api ?? resolve)?.[1] ?? '';
    const folder = repos[repo];
    requests.push({ repo, file: resolve?.[2] ?? '(api)', range: req.headers.range ?? null });
    if (folder && api) {
      const siblings = readdirSync(folder).map((rfilename) => ({ rfilename }));
      res.writeHead(200, { ...CORS, 'content-type': 'application/json' }).end(JSON.stringify({ id: repo, siblings }));
      return;
    }
    const file = folder && resolve && join(folder, resolve[2]!);
    if (!file || !existsSync(file)) {
      res.writeHead(404, CORS).end('not found');
      return;
    }
    const drop = req.headers.range ? undefined : drops.get(resolve![2]!);
    if (drop !== undefined) drops.delete(resolve![2]!);
    serveFile(req, res, file, drop);
  });
  return new Promise((done) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (!address || typeof address === 'string') throw new Error('hub server has no port');
      done({
        url: `http://127.0.0.1:${address.port}/models`,
        requests,
        dropNext: (file, bytes) => void drops.set(file, bytes),
        close: () => {
          server.closeAllConnections();
          return new Promise((closed) => server.close(() => closed()));
        },
      });
    }),
  );
}
