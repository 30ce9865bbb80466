import { sha256 } from './bytes.js';
import { PROTOCOL } from './runtime.js';

const NODE_ID = /^wn1_[0-9a-f]{40}$/;
const DOMAIN = Buffer.from(`${PROTOCOL}/node-id\0`, 'utf8');

/**
 * A node id is `wn1_` + the first 20 bytes (160 bits), in hex, of
 * SHA-256("warden-swarm-v1/node-id" || 0x00 || raw 32-byte Ed25519 public key).
 * It is bound to the signing key, so nobody can claim an id without that key's private half.
 */
export function deriveNodeId(ed25519PublicKey: Uint8Array): string {
  return `wn1_${sha256(DOMAIN, ed25519PublicKey).subarray(0, 20).toString('hex')}`;
}

export function isNodeId(value: unknown): value is string {
  return typeof value === 'string' && NODE_ID.test(value);
}
