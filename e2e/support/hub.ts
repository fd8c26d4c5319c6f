// A local server with the Hugging Face hub's URL layout, for loading test models through the
// page's hub code path (`?hub=<url>`) without any network.
import { createServer, type Server } from 'node:http';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** `/models/<owner>/<name>/resolve/main/<file>` → the repo's folder, with CORS (the page is on another port). */
export function serveHub(repos: Record<string, string>): Promise<Server> {
  const server = createServer((req, res) => {
    const match = /^\/models\/([^/]+\/[^/]+)\/resolve\/main\/([^/]+)$/.exec(decodeURIComponent(new URL(req.url!, 'http://x').pathname));
    const folder = match && repos[match[1]!];
    const file = folder && join(folder, match![2]!);
    const headers = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'content-length, etag' };
    if (!file || !existsSync(file)) {
      res.writeHead(404, headers).end('not found');
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': 'application/octet-stream', 'content-length': statSync(file).size });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** The `?hub=` value for a server started by serveHub. */
export function hubUrlOf(server: Server): string {
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('serveHub: the hub server has no port');
  return `http://127.0.0.1:${address.port}/models`;
}
