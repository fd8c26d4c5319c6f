// Serves a built folder (default dist/) over HTTP on localhost and prints its URL.
// Usage: node scripts/serve.mjs [DIR] [--port N] [--mount /prefix=DIR ...]
// --mount exposes extra folders (tests use it to serve a generated tiny model).
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { extname, join, normalize, resolve } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml', '.txt': 'text/plain; charset=utf-8', '.png': 'image/png',
};

const args = process.argv.slice(2);
let root = 'dist';
let port = Number(process.env.PORT ?? 4173);
const mounts = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--port') port = Number(args[++i]);
  else if (args[i] === '--mount') {
    const [prefix, dir] = args[++i].split('=');
    mounts.push([prefix.replace(/\/$/, ''), resolve(dir)]);
  } else root = args[i];
}
root = resolve(root);

function locate(urlPath) {
  for (const [prefix, dir] of mounts) {
    if (urlPath.startsWith(prefix + '/')) return join(dir, urlPath.slice(prefix.length));
  }
  return join(root, urlPath === '/' ? 'index.html' : urlPath);
}

const server = createServer((req, res) => {
  const urlPath = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
  const file = locate(urlPath);
  let size;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end(`not found: ${urlPath}\n`);
    return;
  }
  res.writeHead(200, {
    'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
    'content-length': size,
    'cache-control': 'no-cache',
  });
  createReadStream(file).pipe(res);
});

server.on('error', (err) => {
  if (err.code === 'EADDRINUSE' && !process.env.PORT) {
    server.listen(++port, '127.0.0.1');
  } else {
    console.error(`serve: ${err.message}`);
    process.exit(1);
  }
});
server.listen(port, '127.0.0.1', () => {
  console.log(`qmd-lab is served at http://127.0.0.1:${port}/  (Ctrl+C to stop)`);
});
