// SHA-256 through WebCrypto, the same in a browser and in Node 20 (globalThis.crypto.subtle). Hashes are
// 32-byte arrays inside the verifier and lowercase hex where they meet the bundle.

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const HASH_RE = /^[0-9a-f]{64}$/;
const utf8 = new TextEncoder();

/** Thrown when this browser lacks what verification needs (WebCrypto, Ed25519): not a verdict on the bundle. */
export class UnsupportedError extends Error {
  override name = 'UnsupportedError';
}

/** WebCrypto's SubtleCrypto; browsers offer it only on https and on localhost. */
export function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle as SubtleCrypto | undefined;
  if (!s)
    throw new UnsupportedError(
      'WebCrypto is not available here: browsers offer it only on https:// pages and on localhost',
    );
  return s;
}

export function isHashHex(value: unknown): value is string {
  return typeof value === 'string' && HASH_RE.test(value);
}

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!];
  return out;
}

/** Bytes of a lowercase hex string (callers check it with isHashHex first). */
export function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++)
    out[i] = (nibble(hex.charCodeAt(2 * i)) << 4) | nibble(hex.charCodeAt(2 * i + 1));
  return out;
}

// '0'-'9' are 48-57, 'a'-'f' 97-102.
const nibble = (c: number) => (c <= 57 ? c - 48 : c - 87);

export function utf8Bytes(text: string): Uint8Array<ArrayBuffer> {
  return utf8.encode(text);
}

export async function sha256(data: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await subtle().digest('SHA-256', data));
}

/** SHA-256 of the text's UTF-8 bytes, hex: a record's chain hash, a key id. */
export async function sha256Hex(data: string | Uint8Array<ArrayBuffer>): Promise<string> {
  return toHex(await sha256(typeof data === 'string' ? utf8Bytes(data) : data));
}

/** RFC 6962 leaf hash SHA-256(0x00 || bytes); U+0000 encodes as the single byte 0x00. */
export function leafHash(text: string): Promise<Uint8Array<ArrayBuffer>> {
  return sha256(utf8Bytes(`\u0000${text}`));
}

/** RFC 6962 interior node hash SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  const buf = new Uint8Array(65);
  buf[0] = 1;
  buf.set(left, 1);
  buf.set(right, 33);
  return sha256(buf);
}
