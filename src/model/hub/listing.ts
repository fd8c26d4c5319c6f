// What a repo holds now, from the hub's API: `<base>/api/models/<repo>/revision/<revision>?blobs=true`
// answers (with CORS) `siblings: [{rfilename, size, blobId, lfs?: {sha256, size}}]`. Each file's
// size and content id are what a cached copy is checked against (download.ts), so a file cut short
// or replaced by a new revision on the hub is fetched again.
import { HUB_BASE, type HubLocation } from './resolve.ts';

/** A file as the hub lists it. */
export interface RemoteFile {
  /** Bytes, null when the listing does not say. */
  size: number | null;
  /**
   * Content id: the LFS sha256 for an LFS file, else the git blob id — what the hub's resolve
   * endpoint sends as X-Linked-Etag and ETag. Null when the listing does not say.
   */
  oid: string | null;
}

/** File name → what the hub lists for it. */
export type RepoListing = Map<string, RemoteFile>;

const count = (v: unknown): number | null => (Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : null);
const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** The listing in an API answer, or null when it has no `siblings` list. Entries without a name are skipped. */
export function parseListing(json: unknown): RepoListing | null {
  const siblings = (json as { siblings?: unknown } | null)?.siblings;
  if (!Array.isArray(siblings)) return null;
  const listing: RepoListing = new Map();
  for (const sibling of siblings as Record<string, unknown>[]) {
    const name = text(sibling?.rfilename);
    if (name === null) continue;
    const lfs = (sibling.lfs ?? null) as Record<string, unknown> | null;
    listing.set(name, { size: count(lfs?.size) ?? count(sibling.size), oid: text(lfs?.sha256) ?? text(sibling.blobId) });
  }
  return listing;
}

/**
 * The repo's listing, or null when the API does not answer with one (offline, a server without
 * the API, an unknown repo): the caller then trusts its cache and probes files one by one.
 * Cancelling through `signal` rejects with the signal's reason.
 */
export async function fetchListing(repo: string, location: HubLocation, signal?: AbortSignal): Promise<RepoListing | null> {
  const base = (location.base ?? HUB_BASE).replace(/\/+$/, '');
  const revision = encodeURIComponent(location.revision ?? 'main');
  try {
    const response = await fetch(`${base}/api/models/${repo}/revision/${revision}?blobs=true`, { signal, cache: 'no-store' });
    if (!response.ok) {
      await response.body?.cancel();
      return null;
    }
    return parseListing(await response.json());
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    return null;
  }
}
