import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { fromBase64Url, toBase64Url } from './bytes.js';
import { decodeKey, encodeKey } from './encoding.js';
import { ed25519PrivateKey, ed25519PublicKey, rawPublicKey } from './keys.js';
import { systemRandom, type RandomBytes } from './runtime.js';
import { signBytes, verifyBytes, type SigningKeys, type VerifyingKeys } from './signature.js';

/**
 * A standalone Ed25519 + ML-DSA-65 (FIPS 204) key pair. Signatures verify only if both halves do.
 *
 * @example
 * const pair = HybridKeyPair.generate();
 * const sig = pair.sign(Buffer.from('critical task'));
 * verifyHybrid(pair.publicKey, Buffer.from('critical task'), sig); // true
 */
export class HybridKeyPair {
  /** Versioned base64url public key: Ed25519 (32 bytes) then ML-DSA-65 (1952 bytes). */
  readonly publicKey: string;
  readonly #keys: SigningKeys;
  readonly #random: RandomBytes;

  private constructor(ed25519Seed: Uint8Array, mldsaSeed: Uint8Array, random: RandomBytes) {
    const ed = ed25519PrivateKey(ed25519Seed);
    const pq = ml_dsa65.keygen(mldsaSeed);
    this.#keys = { ed25519: ed, mldsa65: pq.secretKey };
    this.#random = random;
    this.publicKey = encodeKey('hybrid', Buffer.concat([rawPublicKey(ed), pq.publicKey]));
  }

  /** @param random byte source for both seeds and ML-DSA hedging; defaults to node:crypto. */
  static generate(random: RandomBytes = systemRandom): HybridKeyPair {
    return new HybridKeyPair(random(32), random(32), random);
  }

  /** Deterministic key pair from two 32-byte seeds (Ed25519 RFC 8032 seed, ML-DSA ξ). */
  static fromSeeds(
    ed25519Seed: Uint8Array,
    mldsaSeed: Uint8Array,
    random: RandomBytes = systemRandom,
  ): HybridKeyPair {
    return new HybridKeyPair(ed25519Seed, mldsaSeed, random);
  }

  /** Returns a versioned base64url hybrid signature over `message` for `purpose`. */
  sign(message: Uint8Array, purpose = 'message'): string {
    return toBase64Url(signBytes(this.#keys, purpose, message, this.#random));
  }
}

/** Splits an encoded hybrid public key into verifying keys. @throws SWARM_BAD_ENCODING */
export function decodeHybridPublicKey(publicKey: string): VerifyingKeys {
  const raw = decodeKey(publicKey, 'hybrid');
  return { ed25519: ed25519PublicKey(raw.subarray(0, 32)), mldsa65: raw.subarray(32) };
}

/** True only if the key and signature decode and both the Ed25519 and ML-DSA-65 halves verify. */
export function verifyHybrid(
  publicKey: string | VerifyingKeys,
  message: Uint8Array,
  signature: string,
  purpose = 'message',
): boolean {
  try {
    const keys = typeof publicKey === 'string' ? decodeHybridPublicKey(publicKey) : publicKey;
    if (!keys.mldsa65) return false;
    verifyBytes(keys, purpose, message, fromBase64Url(signature, 'signature'));
    return true;
  } catch {
    return false;
  }
}
