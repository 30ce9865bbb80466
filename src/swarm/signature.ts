import type { KeyObject } from 'node:crypto';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { WardenError } from '../core/index.js';
import { decodeSignatureBytes, encodeSignatureBytes, SIG_SUITE, type SignatureSuite } from './encoding.js';
import { ed25519Sign, ed25519Verify } from './keys.js';
import { PROTOCOL, systemRandom, type RandomBytes } from './runtime.js';

/** FIPS 204 context string bound into every ML-DSA signature Warden makes. */
export const MLDSA_CONTEXT = Buffer.from(PROTOCOL, 'utf8');

/** Private halves a node signs with. `mldsa65` present ⇒ signatures are hybrid. */
export interface SigningKeys {
  ed25519: KeyObject;
  mldsa65?: Uint8Array | undefined;
}

/** Public halves a verifier resolved from the trust registry (never from the message). */
export interface VerifyingKeys {
  ed25519: KeyObject;
  mldsa65?: Uint8Array | undefined;
}

/**
 * The exact bytes each component signs: `warden-swarm-v1/<purpose> 0x00 <suite byte> <data>`.
 * The purpose separates envelopes from receipts from registrations; the suite byte makes the
 * Ed25519 half of a hybrid signature useless on its own (stripping the ML-DSA half changes the suite).
 */
export function signingInput(purpose: string, suite: SignatureSuite, data: Uint8Array): Buffer {
  const prefix = Buffer.from(`${PROTOCOL}/${purpose}\0_`, 'utf8');
  prefix[prefix.length - 1] = SIG_SUITE[suite];
  return Buffer.concat([prefix, data]);
}

/** Signs `data` for `purpose`; hybrid (Ed25519 + ML-DSA-65) when the keys include ML-DSA. */
export function signBytes(
  keys: SigningKeys,
  purpose: string,
  data: Uint8Array,
  random: RandomBytes = systemRandom,
): Buffer {
  if (!keys.mldsa65) {
    const ed = ed25519Sign(keys.ed25519, signingInput(purpose, 'ed25519', data));
    return encodeSignatureBytes('ed25519', [ed]);
  }
  const input = signingInput(purpose, 'ed25519+mldsa65', data);
  const ed = ed25519Sign(keys.ed25519, input);
  const pq = ml_dsa65.sign(input, keys.mldsa65, { context: MLDSA_CONTEXT, extraEntropy: random(32) });
  return encodeSignatureBytes('ed25519+mldsa65', [ed, pq]);
}

/**
 * Verifies an encoded signature. A hybrid signature verifies only if both halves verify; a signer
 * registered with an ML-DSA key must sign hybrid (no downgrade to Ed25519 alone).
 * @throws WardenError SWARM_BAD_SIGNATURE, or SWARM_BAD_ENCODING for a malformed signature.
 */
export function verifyBytes(
  keys: VerifyingKeys,
  purpose: string,
  data: Uint8Array,
  signature: Uint8Array,
): void {
  const decoded = decodeSignatureBytes(signature);
  if (keys.mldsa65 && decoded.suite !== 'ed25519+mldsa65') {
    throw badSignature(purpose, 'signer has an ML-DSA-65 key; an Ed25519-only signature is a downgrade');
  }
  if (!keys.mldsa65 && decoded.suite !== 'ed25519') {
    throw badSignature(purpose, 'hybrid signature from a signer without a registered ML-DSA-65 key');
  }
  const input = signingInput(purpose, decoded.suite, data);
  if (!ed25519Verify(keys.ed25519, input, decoded.ed25519))
    throw badSignature(purpose, 'Ed25519 signature is invalid');
  if (decoded.mldsa65 && keys.mldsa65 && !mldsaVerify(keys.mldsa65, input, decoded.mldsa65)) {
    throw badSignature(purpose, 'ML-DSA-65 signature is invalid');
  }
}

function mldsaVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return ml_dsa65.verify(signature, message, publicKey, { context: MLDSA_CONTEXT });
  } catch {
    return false;
  }
}

export function badSignature(purpose: string, reason: string): WardenError {
  return new WardenError('SWARM_BAD_SIGNATURE', `Bad ${purpose} signature: ${reason}`, {
    details: { purpose },
  });
}
