// Tests only: the link format written a second way, with node:zlib and Buffer instead of
// fflate and our own base64url/CRC, so tests check the format rather than the code against itself.
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';

/** `<version>.` + base64url([u16 BE length][raw deflate][u32 BE CRC-32 of the bytes before]); version 3 is the current one. */
export function referenceLink(content: string | Uint8Array, version = 3, level = 9): string {
  return referenceFrame(deflateRawSync(content, { level }), version);
}

/** Any bytes framed as a link's deflate stream, with a right length and CRC. */
export function referenceFrame(deflated: Uint8Array, version = 3): string {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(deflated.length);
  const body = Buffer.concat([head, deflated]);
  const tail = Buffer.alloc(4);
  tail.writeUInt32BE(crc32(body));
  return `${version}.${Buffer.concat([body, tail]).toString('base64url')}`;
}

/** The JSON text inside a link, checking length and CRC on the way. */
export function referenceRead(link: string): string {
  const bytes = Buffer.from(link.slice(link.indexOf('.') + 1), 'base64url');
  const length = bytes.readUInt16BE(0);
  if (bytes.length !== 2 + length + 4) throw new Error(`frame: ${bytes.length} bytes, length field says ${2 + length + 4}`);
  if (crc32(bytes.subarray(0, 2 + length)) !== bytes.readUInt32BE(2 + length)) throw new Error('frame: CRC mismatch');
  return inflateRawSync(bytes.subarray(2, 2 + length)).toString('utf8');
}
