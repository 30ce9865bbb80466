import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import { badEncoding } from './bytes.js';

// DER prefixes of RFC 8410 structures: a 32-byte raw key is appended to each.
const ED25519_PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');
const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex');

export const ED25519_SIGNATURE_BYTES = 64;
export const RAW_KEY_BYTES = 32;

function der(prefix: Buffer, raw: Uint8Array, what: string): Buffer {
  if (raw.length !== RAW_KEY_BYTES) throw badEncoding(`${what} must be 32 bytes, got ${raw.length}`);
  return Buffer.concat([prefix, raw]);
}

function wrap<T>(what: string, build: () => T): T {
  try {
    return build();
  } catch (error: unknown) {
    if (error instanceof Error && error.name === 'WardenError') throw error;
    throw badEncoding(`${what} is not a valid key`);
  }
}

/** Ed25519 private key from its 32-byte RFC 8032 seed. */
export function ed25519PrivateKey(seed: Uint8Array): KeyObject {
  return wrap('Ed25519 seed', () =>
    createPrivateKey({ key: der(ED25519_PKCS8, seed, 'Ed25519 seed'), format: 'der', type: 'pkcs8' }),
  );
}

export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  return wrap('Ed25519 public key', () =>
    createPublicKey({ key: der(ED25519_SPKI, raw, 'Ed25519 public key'), format: 'der', type: 'spki' }),
  );
}

export function x25519PrivateKey(raw: Uint8Array): KeyObject {
  return wrap('X25519 private key', () =>
    createPrivateKey({ key: der(X25519_PKCS8, raw, 'X25519 private key'), format: 'der', type: 'pkcs8' }),
  );
}

export function x25519PublicKey(raw: Uint8Array): KeyObject {
  return wrap('X25519 public key', () =>
    createPublicKey({ key: der(X25519_SPKI, raw, 'X25519 public key'), format: 'der', type: 'spki' }),
  );
}

/** The raw 32 bytes of an Ed25519 or X25519 public key (last 32 bytes of its SPKI). */
export function rawPublicKey(key: KeyObject): Buffer {
  const spki = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'der', type: 'spki' });
  return spki.subarray(spki.length - RAW_KEY_BYTES);
}

export function ed25519Sign(privateKey: KeyObject, message: Uint8Array): Buffer {
  return nodeSign(null, message, privateKey);
}

/** False (never a throw) for a wrong-length or invalid signature. */
export function ed25519Verify(publicKey: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== ED25519_SIGNATURE_BYTES) return false;
  try {
    return nodeVerify(null, message, publicKey, signature);
  } catch {
    return false;
  }
}

/** RFC 7748 X25519; rejects the all-zero shared secret of small-order peer keys. */
export function x25519(privateKey: KeyObject, publicKey: KeyObject): Buffer {
  try {
    return diffieHellman({ privateKey, publicKey });
  } catch {
    throw badEncoding('X25519 produced no shared secret (small-order public key?)');
  }
}

/** RFC 5869 HKDF with SHA-256. */
export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array | string,
  length: number,
): Buffer {
  return Buffer.from(
    hkdfSync('sha256', ikm, salt, typeof info === 'string' ? Buffer.from(info, 'utf8') : info, length),
  );
}
