// base64url without padding (RFC 4648 §5). Decoding accepts only the 64 URL-safe
// characters and says whether the unused bits of the last character are zero: only then
// is the text the one form of its bytes, so a mutated character never passes as the original.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i;

export function encodeBase64url(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let k = 0; k < chars; k++) out += ALPHABET[(n >>> (18 - 6 * k)) & 63];
  }
  return out;
}

export interface Base64urlBytes {
  bytes: Uint8Array;
  /** False when the unused bits of the last character are not zero. */
  canonical: boolean;
}

/** Bytes of `text`, or why it is not base64url at all. */
export function decodeBase64url(text: string): Base64urlBytes | 'bad_character' | 'bad_length' {
  // A length of 4k+1 leaves 6 bits: less than a byte, so no encoder ever writes it.
  if (text.length % 4 === 1) return 'bad_length';
  const bytes = new Uint8Array(Math.floor((text.length * 6) / 8));
  let acc = 0;
  let bits = 0;
  let at = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? VALUE[code] : -1;
    if (value < 0) return 'bad_character';
    acc = ((acc << 6) | value) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[at++] = (acc >>> bits) & 0xff;
    }
  }
  return { bytes, canonical: (acc & ((1 << bits) - 1)) === 0 };
}
