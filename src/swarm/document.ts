import { canonicalBytes } from './canonical.js';
import { fromBase64Url, toBase64Url } from './bytes.js';
import { signBytes, verifyBytes, type SigningKeys, type VerifyingKeys } from './signature.js';
import { systemRandom, type RandomBytes } from './runtime.js';

/** A JSON body plus a versioned base64url signature over its RFC 8785 canonical bytes. */
export interface SignedDocument<T> {
  body: T;
  signature: string;
}

/** Signs the canonical bytes of `body` under the signing purpose `kind` (for example `warden.swarm.receipt`). */
export function signDocument<T extends { kind: string }>(
  keys: SigningKeys,
  body: T,
  random: RandomBytes = systemRandom,
): SignedDocument<T> {
  const signature = signBytes(keys, body.kind, canonicalBytes(body), random);
  return { body, signature: toBase64Url(signature) };
}

/**
 * Verifies `doc.signature` over the canonical bytes of `doc.body` with keys the caller resolved.
 * @throws WardenError SWARM_BAD_SIGNATURE or SWARM_BAD_ENCODING
 */
export function verifyDocument<T extends { kind: string }>(
  keys: VerifyingKeys,
  doc: SignedDocument<T>,
): void {
  verifyBytes(keys, doc.body.kind, canonicalBytes(doc.body), fromBase64Url(doc.signature, 'signature'));
}
