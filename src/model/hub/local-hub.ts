// A hub on 127.0.0.1 for tests (node:http): serves files at `/<repo>/resolve/<revision>/<file>`
// with ETag and Range support and the listing at `/api/models/<repo>/revision/<revision>` (sizes,
// git blob ids, LFS sha256 for .safetensors, as the hub's `?blobs=true`), and can answer 403 for
// gated repos, ignore ranges, trickle the body, drop the connection partway, or send a short file
// as if it were whole — the situations download.ts must survive.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubRequest {
  path: string;
  range: string | null;
  status: number;
}

export class LocalHub {
  readonly requests: HubRequest[] = [];
  /** Answer every request with the whole file (200), as some servers and proxies do. */
  ignoreRanges = false;
  /** Delay between 16 KiB body chunks. */
  chunkDelayMs = 0;
  readonly #files = new Map<string, Uint8Array>();
  readonly #gated = new Set<string>();
  readonly #drops = new Map<string, number>();
  readonly #truncations = new Map<string, number>();
  readonly #server = createServer((req, res) => void this.#handle(req, res));
  base = '';

  static async start(): Promise<LocalHub> {
    const hub = new LocalHub();
    // Node closes a keep-alive socket idle for 5 s, and fetch (undici) may send its next request on
    // it just then: "other side closed" / ECONNRESET when a loaded machine pauses between loads.
    // Without the timeout the client, which knows when it will reuse a socket, closes idle ones.
    hub.#server.keepAliveTimeout = 0;
    await new Promise<void>((resolve) => hub.#server.listen(0, '127.0.0.1', resolve));
    hub.base = `http://127.0.0.1:${(hub.#server.address() as AddressInfo).port}`;
    return hub;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  put(repo: string, file: string, bytes: Uint8Array, revision = 'main'): void {
    this.#files.set(this.#path(repo, file, revision), bytes);
  }

  gate(repo: string): void {
    this.#gated.add(repo);
  }

  /** The next response for this file sends `bytes` bytes of its body, then the socket is destroyed. */
  dropOnce(repo: string, file: string, bytes: number, revision = 'main'): void {
    this.#drops.set(this.#path(repo, file, revision), bytes);
  }

  /** The next response for this file is its first `bytes` bytes, announced (Content-Length) as the whole file. */
  truncateOnce(repo: string, file: string, bytes: number, revision = 'main'): void {
    this.#truncations.set(this.#path(repo, file, revision), bytes);
  }

  #folder(repo: string, revision: string): string {
    return `/${repo}/resolve/${encodeURIComponent(revision)}/`;
  }

  #path(repo: string, file: string, revision: string): string {
    return this.#folder(repo, revision) + file.split('/').map(encodeURIComponent).join('/');
  }

  /** The hub's answer for a repo at a revision; null (a 404) when it holds no files there. */
  #listing(repo: string, revision: string): object | null {
    const folder = this.#folder(repo, revision);
    const sha = (algorithm: string, ...parts: (string | Uint8Array)[]) => {
      const hash = createHash(algorithm);
      for (const part of parts) hash.update(part);
      return hash.digest('hex');
    };
    const siblings = [...this.#files]
      .filter(([path]) => path.startsWith(folder))
      .map(([path, bytes]) => {
        const rfilename = path.slice(folder.length).split('/').map(decodeURIComponent).join('/');
        const blobId = sha('sha1', `blob ${bytes.byteLength}\0`, bytes);
        const lfs = rfilename.endsWith('.safetensors') ? { lfs: { sha256: sha('sha256', bytes), size: bytes.byteLength } } : {};
        return { rfilename, size: bytes.byteLength, blobId, ...lfs };
      });
    return siblings.length ? { id: repo, siblings } : null;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? '/';
    const range = req.headers.range ?? null;
    const reply = (status: number) => {
      this.requests.push({ path, range, status });
      res.statusCode = status;
    };
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/?]+)/.exec(path);
    const repo = api?.[1] ?? path.split('/').slice(1, 3).join('/');
    if (this.#gated.has(repo)) {
      reply(403);
      return void res.end('Access to this repo is restricted');
    }
    if (api) {
      const listing = this.#listing(repo, decodeURIComponent(api[2]!));
      reply(listing ? 200 : 404);
      res.setHeader('Content-Type', 'application/json');
      return void res.end(JSON.stringify(listing ?? { error: 'Repository not found' }));
    }
    const stored = this.#files.get(path);
    const truncation = this.#truncations.get(path);
    this.#truncations.delete(path);
    if (!stored) {
      reply(404);
      return void res.end('Entry not found');
    }
    // A proxy that cuts the body short passes the hub's headers on: the ETag is the whole file's.
    res.setHeader('ETag', `"${createHash('sha256').update(stored).digest('hex')}"`);
    const bytes = truncation === undefined ? stored : stored.subarray(0, truncation);
    res.setHeader('Accept-Ranges', 'bytes');
    let start = 0;
    let stop = bytes.byteLength;
    const match = /^bytes=(\d+)-(\d*)$/.exec(range ?? '');
    if (match && !this.ignoreRanges) {
      start = Number(match[1]);
      if (match[2]) stop = Math.min(stop, Number(match[2]) + 1);
      if (start >= stop) {
        reply(416);
        res.setHeader('Content-Range', `bytes */${bytes.byteLength}`);
        return void res.end();
      }
      reply(206);
      res.setHeader('Content-Range', `bytes ${start}-${stop - 1}/${bytes.byteLength}`);
    } else {
      reply(200);
    }
    res.setHeader('Content-Length', String(stop - start));
    const body = bytes.subarray(start, stop);
    const drop = this.#drops.get(path);
    this.#drops.delete(path);
    const end = drop === undefined ? body.byteLength : Math.min(drop, body.byteLength);
    for (let at = 0; at < end; at += 16384) {
      await new Promise((resolve) => res.write(body.subarray(at, Math.min(at + 16384, end)), resolve));
      if (this.chunkDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.chunkDelayMs));
      if (res.destroyed) return;
    }
    if (drop === undefined) res.end();
    else res.socket?.destroy();
  }
}
