import { badEncoding, fromBase64Url, toBase64Url } from './bytes.js';

/**
 * Versioned binary encodings: every key and signature starts with a format version byte and an
 * algorithm byte, so a future suite can be added without ambiguity. Text form is base64url.
 */
export const ENCODING_VERSION = 1;

export const KEY_ALG = {
  ed25519: 0x01,
  x25519: 0x02,
  mldsa65: 0x03,
  /** Ed25519 public key (32 bytes) followed by an ML-DSA-65 public key (1952 bytes). */
  hybrid: 0x04,
} as const;
export type KeyAlg = keyof typeof KEY_ALG;

export const KEY_LENGTH: Record<KeyAlg, number> = {
  ed25519: 32,
  x25519: 32,
  mldsa65: 1952,
  hybrid: 32 + 1952,
};

export const SIG_SUITE = {
  ed25519: 0x01,
  /** Ed25519 signature (64 bytes) followed by an ML-DSA-65 signature (3309 bytes). */
  'ed25519+mldsa65': 0x02,
} as const;
export type SignatureSuite = keyof typeof SIG_SUITE;

export const SIG_LENGTH: Record<SignatureSuite, number> = { ed25519: 64, 'ed25519+mldsa65': 64 + 3309 };

function tagged(version: number, alg: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(2 + body.length);
  out[0] = version;
  out[1] = alg;
  out.set(body, 2);
  return out;
}

export function encodeKey(alg: KeyAlg, raw: Uint8Array): string {
  if (raw.length !== KEY_LENGTH[alg]) throw badEncoding(`${alg} key must be ${KEY_LENGTH[alg]} bytes`);
  return toBase64Url(tagged(ENCODING_VERSION, KEY_ALG[alg], raw));
}

/** Decodes a versioned key and checks it is of the expected algorithm; returns the raw key bytes. */
export function decodeKey(text: string, alg: KeyAlg): Buffer {
  const bytes = fromBase64Url(text, `${alg} key`);
  if (bytes[0] !== ENCODING_VERSION)
    throw badEncoding(`Unsupported key encoding version ${bytes[0] ?? 'none'}`);
  if (bytes[1] !== KEY_ALG[alg]) throw badEncoding(`Key is not ${alg}`);
  if (bytes.length !== 2 + KEY_LENGTH[alg]) throw badEncoding(`${alg} key has the wrong length`);
  return bytes.subarray(2);
}

export function encodeSignatureBytes(suite: SignatureSuite, parts: readonly Uint8Array[]): Buffer {
  const body = Buffer.concat(parts);
  if (body.length !== SIG_LENGTH[suite])
    throw badEncoding(`${suite} signature must be ${SIG_LENGTH[suite]} bytes`);
  return tagged(ENCODING_VERSION, SIG_SUITE[suite], body);
}

export interface DecodedSignature {
  suite: SignatureSuite;
  ed25519: Buffer;
  mldsa65: Buffer | undefined;
}

export function decodeSignatureBytes(bytes: Uint8Array): DecodedSignature {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf[0] !== ENCODING_VERSION)
    throw badEncoding(`Unsupported signature encoding version ${buf[0] ?? 'none'}`);
  const suite =
    buf[1] === SIG_SUITE.ed25519
      ? 'ed25519'
      : buf[1] === SIG_SUITE['ed25519+mldsa65']
        ? 'ed25519+mldsa65'
        : null;
  if (suite === null) throw badEncoding(`Unknown signature suite ${buf[1] ?? 'none'}`);
  if (buf.length !== 2 + SIG_LENGTH[suite]) throw badEncoding(`${suite} signature has the wrong length`);
  const ed25519 = buf.subarray(2, 66);
  return { suite, ed25519, mldsa65: suite === 'ed25519' ? undefined : buf.subarray(66) };
}
