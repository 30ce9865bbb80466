import { compareBytes, sha256 } from './bytes.js';
import { hkdfSha256 } from './keys.js';
import { PROTOCOL } from './runtime.js';

const TOPIC_SALT = sha256(Buffer.from(`${PROTOCOL}/topic`, 'utf8'));

/**
 * Pairwise AES-256-GCM key: HKDF-SHA256 over the X25519 shared secret with
 * salt = SHA-256(lower public key || higher public key) and info = `warden-swarm-v1:{swarmId}`.
 * Both sides get the same key whichever of them computes it.
 */
export function deriveSessionKey(
  sharedSecret: Uint8Array,
  publicA: Uint8Array,
  publicB: Uint8Array,
  swarmId: string,
): Buffer {
  const [low, high] = compareBytes(publicA, publicB) <= 0 ? [publicA, publicB] : [publicB, publicA];
  return hkdfSha256(sharedSecret, sha256(low, high), `${PROTOCOL}:${swarmId}`, 32);
}

/**
 * Topic (group) key from a swarm secret shared by members: HKDF-SHA256 with
 * salt = SHA-256("warden-swarm-v1/topic") and info = `warden-swarm-v1:{swarmId}:topic:{topic}`.
 */
export function deriveTopicKey(swarmKey: Uint8Array, swarmId: string, topic: string): Buffer {
  return hkdfSha256(swarmKey, TOPIC_SALT, `${PROTOCOL}:${swarmId}:topic:${topic}`, 32);
}
