import { createHash, timingSafeEqual } from 'node:crypto';
import { WardenError } from '../core/index.js';

const BASE64URL = /^[A-Za-z0-9_-]*$/;

export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** Strict base64url decoding: rejects padding, foreign characters and non-canonical trailing bits. */
export function fromBase64Url(text: string, what = 'value', expectedLength?: number): Buffer {
  if (typeof text !== 'string' || !BASE64URL.test(text) || text.length % 4 === 1) {
    throw badEncoding(`${what} is not base64url`);
  }
  const bytes = Buffer.from(text, 'base64url');
  // Node ignores stray low bits in the last character; re-encoding catches that malleability.
  if (bytes.toString('base64url') !== text) throw badEncoding(`${what} is not canonical base64url`);
  if (expectedLength !== undefined && bytes.length !== expectedLength) {
    throw badEncoding(`${what} must be ${expectedLength} bytes, got ${bytes.length}`);
  }
  return bytes;
}

export function fromHex(hex: string): Buffer {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw badEncoding('value is not hex');
  return Buffer.from(hex, 'hex');
}

export function sha256(...parts: Uint8Array[]): Buffer {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

/** Constant-time equality that also tolerates different lengths (returns false). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Lexicographic byte order, used to sort public keys before hashing them into a salt. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export function badEncoding(message: string, details?: Record<string, unknown>): WardenError {
  return new WardenError('SWARM_BAD_ENCODING', message, details ? { details } : {});
}
