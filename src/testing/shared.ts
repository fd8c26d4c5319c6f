// Where tests find ../shared (real data and reference fixtures, never copied into the repo).
// On a user's machine without it, tests that need it are skipped with a clear message;
// under CI=true its absence is a failure.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

const root = resolve(fileURLToPath(new URL('../../../shared', import.meta.url)));

/** Absolute path of `rel` inside ../shared, or null (with a message) when it is absent. */
export function sharedFile(rel: string): string | null {
  const path = join(root, rel);
  if (existsSync(path)) return path;
  const message = `../shared/${rel} not found at ${path}`;
  if (process.env.CI === 'true') throw new Error(`${message}: CI needs ../shared beside the checkout`);
  console.warn(`skipping: ${message}`);
  return null;
}
