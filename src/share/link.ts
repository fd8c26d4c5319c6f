// Share links: `<version>.<base64url(frame)>` after `#/share/`, where
//   frame = [deflated length: u16 BE] [deflate(JSON payload), level 9] [CRC-32 of the bytes before: u32 BE]
// The length tells a cut-off link from a damaged one; the CRC rejects any changed byte
// before inflating. Decoding treats the text as hostile: size caps before and during
// inflation (a deflate bomb stops after ~1 MiB of output), strict schema check, and
// every failure — whatever the input — is a ShareError.
import { Inflate, deflateSync, strToU8 } from 'fflate';
import { decodeBase64url, encodeBase64url, type Base64urlBytes } from './base64url.ts';
import { crc32 } from './crc32.ts';
import { READABLE_VERSIONS, SHARE_VERSION, checkPayload, type SharePayload } from './payload.ts';
import { ShareError } from './share-error.ts';

/** Longest link data accepted, before anything is decoded. */
export const MAX_LINK_CHARS = 64 * 1024;
/** Largest payload JSON accepted, enforced while inflating. */
export const MAX_JSON_BYTES = 1024 * 1024;
/** Compressed bytes per inflate push: deflate expands at most ~1032×, so one push yields ≤ ~260 KiB. */
const INFLATE_CHUNK = 256;
const ROUTE = '#/share/';
const LENGTH_BYTES = 2;
const CRC_BYTES = 4;

function frame(deflated: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(LENGTH_BYTES + deflated.length + CRC_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, deflated.length);
  bytes.set(deflated, LENGTH_BYTES);
  view.setUint32(LENGTH_BYTES + deflated.length, crc32(bytes.subarray(0, LENGTH_BYTES + deflated.length)));
  return bytes;
}

/** The link data of a payload, under the payload's own version (`SHARE_VERSION` for anything this page makes). */
export function encodeShare(payload: SharePayload): string {
  const checked = checkPayload(payload);
  const json = strToU8(JSON.stringify(checked));
  if (json.length > MAX_JSON_BYTES) {
    throw new ShareError('too_large', `share link: the result is ${json.length} bytes of JSON; at most ${MAX_JSON_BYTES} fit in a link`);
  }
  const deflated = deflateSync(json, { level: 9 });
  const text = deflated.length > 0xffff ? null : `${checked.v}.${encodeBase64url(frame(deflated))}`;
  if (text === null || text.length > MAX_LINK_CHARS) {
    throw new ShareError('too_large', `share link: the result compresses to ${deflated.length} bytes; a link holds at most ${MAX_LINK_CHARS} characters`);
  }
  return text;
}

/** The page's own test/dev switch (a stand-in hub, see src/ui/engine/engine.svelte.ts): never passed on to a link's reader. */
const PAGE_ONLY_PARAMS = ['hub'];

/** `baseHref` without its fragment and page-only query parameters, then `#/share/<link data>`. */
export function shareUrl(baseHref: string, payload: SharePayload): string {
  const url = new URL(baseHref);
  url.hash = '';
  // Only when present: deleting re-encodes the whole query string.
  for (const name of PAGE_ONLY_PARAMS) if (url.searchParams.has(name)) url.searchParams.delete(name);
  return `${url.href}${ROUTE}${encodeShare(payload)}`;
}

const truncated = () =>
  new ShareError('truncated', 'share link: the link is cut off (its data ends early) — copy the whole link');
const corrupted = (what: string) => new ShareError('corrupted', `share link: the data is damaged (${what})`);

/** The deflated bytes of a checked frame. */
function unframe({ bytes, canonical }: Base64urlBytes): Uint8Array {
  if (bytes.length < LENGTH_BYTES + CRC_BYTES) throw truncated();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = LENGTH_BYTES + view.getUint16(0);
  if (bytes.length < end + CRC_BYTES) throw truncated();
  if (bytes.length > end + CRC_BYTES) throw corrupted(`${bytes.length - end - CRC_BYTES} bytes after the end`);
  if (!canonical) throw corrupted('stray bits in the last character');
  if (crc32(bytes.subarray(0, end)) !== view.getUint32(end)) throw corrupted('checksum mismatch');
  if (end === LENGTH_BYTES) throw corrupted('no data');
  return bytes.subarray(LENGTH_BYTES, end);
}

function inflateCapped(deflated: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  const inflate = new Inflate((part) => {
    size += part.length;
    if (size > MAX_JSON_BYTES) {
      throw new ShareError('too_large', `share link: the data inflates to more than ${MAX_JSON_BYTES} bytes; refused`);
    }
    parts.push(part);
  });
  try {
    for (let at = 0; at < deflated.length; at += INFLATE_CHUNK) {
      const end = Math.min(at + INFLATE_CHUNK, deflated.length);
      inflate.push(deflated.subarray(at, end), end === deflated.length);
    }
  } catch (error) {
    if (error instanceof ShareError) throw error;
    throw corrupted(`deflate: ${(error as Error).message}`);
  }
  const json = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    json.set(part, at);
    at += part.length;
  }
  return json;
}

function parseJson(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw corrupted('not UTF-8 text');
  }
  try {
    return JSON.parse(text);
  } catch {
    throw corrupted('not JSON');
  }
}

/** The link data: after `#/share/` when given a whole URL. */
function linkData(input: string): string {
  const at = input.lastIndexOf(ROUTE);
  return (at < 0 ? input : input.slice(at + ROUTE.length)).trim();
}

function decode(input: unknown): SharePayload {
  if (typeof input !== 'string') throw new ShareError('not_qmd_lab', 'share link: expected the text of a link');
  if (input.length > MAX_LINK_CHARS + 4096) {
    throw new ShareError('too_large', `share link: ${input.length} characters; at most ${MAX_LINK_CHARS} are accepted`);
  }
  const data = linkData(input);
  if (data.length > MAX_LINK_CHARS) {
    throw new ShareError('too_large', `share link: ${data.length} characters of data; at most ${MAX_LINK_CHARS} are accepted`);
  }
  const prefix = /^(\d{1,9})\.(.*)$/s.exec(data);
  if (!prefix) {
    throw new ShareError('not_qmd_lab', `share link: not a qmd-lab link (expected "#/share/${SHARE_VERSION}.…")`);
  }
  const version = Number(prefix[1]);
  if (version > SHARE_VERSION) {
    throw new ShareError('future_version', `share link: made by a newer qmd-lab, version ${version}; this page reads version ${SHARE_VERSION}`);
  }
  if (!READABLE_VERSIONS.includes(version)) throw new ShareError('not_qmd_lab', `share link: not a qmd-lab link (unknown version ${version})`);
  const bytes = decodeBase64url(prefix[2]);
  if (bytes === 'bad_length') throw truncated();
  if (bytes === 'bad_character') throw corrupted('a character that never appears in a link');
  const payload = checkPayload(parseJson(inflateCapped(unframe(bytes))));
  if (payload.v !== version) {
    throw new ShareError('invalid_payload', `share link: field v: expected ${version}, the version in front of the link data (found ${payload.v})`);
  }
  return payload;
}

/** The payload of a link (or of a whole URL holding one); any failure is a ShareError. */
export function decodeShare(input: string): SharePayload {
  try {
    return decode(input);
  } catch (error) {
    if (error instanceof ShareError) throw error;
    throw new ShareError('corrupted', `share link: could not be read (${error instanceof Error ? error.message : 'unknown failure'})`);
  }
}
