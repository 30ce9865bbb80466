import { randomBytes } from 'node:crypto';

const POOL_BYTES = 4096;
let pool = randomBytes(POOL_BYTES);
let poolAt = 0;

/** Milliseconds since the Unix epoch. Injected so tests can freeze or advance time. */
export interface Clock {
  now(): number;
}

/** Returns `size` cryptographically random bytes. Injected so tests can be deterministic. */
export type RandomBytes = (size: number) => Uint8Array;

export const systemClock: Clock = { now: () => Date.now() };

/**
 * node:crypto randomness. Small requests (nonces) are cut from a 4 KiB block that is replaced, never
 * refilled, when used up, so every returned slice stays unique; it saves a CSPRNG call per envelope.
 */
export const systemRandom: RandomBytes = (size) => {
  if (size > 64) return randomBytes(size);
  if (poolAt + size > POOL_BYTES) {
    pool = randomBytes(POOL_BYTES);
    poolAt = 0;
  }
  poolAt += size;
  return pool.subarray(poolAt - size, poolAt);
};

/** Protocol label used in HKDF info strings, signature domains and file kinds. */
export const PROTOCOL = 'warden-swarm-v1';
