import { describe, expect, it } from 'vitest';
import { expectCode, flipBit, seededRandom } from './fixtures/harness.js';
import { decodeHybridPublicKey, HybridKeyPair, verifyHybrid } from './hybrid.js';
import { decodeKey, encodeKey } from './encoding.js';
import { signBytes, verifyBytes } from './signature.js';
import { ed25519PrivateKey, ed25519PublicKey, rawPublicKey } from './keys.js';

const pair = HybridKeyPair.generate(seededRandom('hybrid'));
const other = HybridKeyPair.generate(seededRandom('hybrid-other'));
const msg = Buffer.from('assign task 7 to node 3');
const sig = pair.sign(msg);

describe('hybrid Ed25519 + ML-DSA-65 signatures', () => {
  it('verify only with the right key, message and purpose', () => {
    expect(verifyHybrid(pair.publicKey, msg, sig)).toBe(true);
    expect(verifyHybrid(other.publicKey, msg, sig)).toBe(false);
    expect(verifyHybrid(pair.publicKey, Buffer.from('assign task 8 to node 3'), sig)).toBe(false);
    expect(verifyHybrid(pair.publicKey, msg, sig, 'receipt')).toBe(false);
  });

  it('fail if either half is broken, or the halves come from different keys', () => {
    const raw = Buffer.from(sig, 'base64url');
    expect(verifyHybrid(pair.publicKey, msg, flipBit(raw, 2 * 8 + 5).toString('base64url'))).toBe(false); // Ed25519 half
    expect(verifyHybrid(pair.publicKey, msg, flipBit(raw, 100 * 8).toString('base64url'))).toBe(false); // ML-DSA half
    const otherRaw = Buffer.from(other.sign(msg), 'base64url');
    const mixed = Buffer.concat([raw.subarray(0, 66), otherRaw.subarray(66)]);
    expect(verifyHybrid(pair.publicKey, msg, mixed.toString('base64url'))).toBe(false);
    // A key made of one pair's Ed25519 and another's ML-DSA verifies neither signature.
    const pk = Buffer.from(pair.publicKey, 'base64url');
    const chimera = Buffer.concat([
      pk.subarray(0, 34),
      Buffer.from(other.publicKey, 'base64url').subarray(34),
    ]).toString('base64url');
    expect(verifyHybrid(chimera, msg, sig)).toBe(false);
  });

  it('cannot be downgraded: the Ed25519 half alone, relabelled, does not verify', () => {
    const raw = Buffer.from(sig, 'base64url');
    const edOnly = Buffer.from(raw.subarray(0, 66));
    edOnly[1] = 1;
    const keys = decodeHybridPublicKey(pair.publicKey);
    expectCode(() => verifyBytes(keys, 'message', msg, edOnly), 'SWARM_BAD_SIGNATURE');
    // Even against the Ed25519 key alone the suite byte is bound into the signed bytes.
    expectCode(() => verifyBytes({ ed25519: keys.ed25519 }, 'message', msg, edOnly), 'SWARM_BAD_SIGNATURE');
  });

  it('encodings are versioned: wrong version, suite or length is SWARM_BAD_ENCODING', () => {
    const raw = Buffer.from(sig, 'base64url');
    const keys = decodeHybridPublicKey(pair.publicKey);
    for (const bad of [
      Buffer.concat([Buffer.from([2]), raw.subarray(1)]),
      Buffer.concat([raw.subarray(0, 1), Buffer.from([9]), raw.subarray(2)]),
      raw.subarray(0, raw.length - 1),
    ]) {
      expectCode(() => verifyBytes(keys, 'message', msg, bad), 'SWARM_BAD_ENCODING');
    }
    expect(raw.length).toBe(2 + 64 + 3309);
    expectCode(() => decodeKey(pair.publicKey, 'ed25519'), 'SWARM_BAD_ENCODING');
    expectCode(() => decodeKey(pair.publicKey + 'A', 'hybrid'), 'SWARM_BAD_ENCODING');
    expectCode(() => decodeKey(pair.publicKey.replace(/^A/, 'B'), 'hybrid'), 'SWARM_BAD_ENCODING');
  });

  it('classical Ed25519 signatures use the same versioned frame', () => {
    const seed = seededRandom('ed')(32);
    const priv = ed25519PrivateKey(seed);
    const s = signBytes({ ed25519: priv }, 'p', msg);
    expect([...s.subarray(0, 2)]).toEqual([1, 1]);
    const encoded = encodeKey('ed25519', rawPublicKey(priv));
    const pub = ed25519PublicKey(decodeKey(encoded, 'ed25519'));
    expect(() => verifyBytes({ ed25519: pub }, 'p', msg, s)).not.toThrow();
    expectCode(() => verifyBytes({ ed25519: pub }, 'q', msg, s), 'SWARM_BAD_SIGNATURE');
    // A classical signer cannot present a hybrid signature it has no registered ML-DSA key for.
    expectCode(
      () => verifyBytes({ ed25519: pub }, 'message', msg, Buffer.from(sig, 'base64url')),
      'SWARM_BAD_SIGNATURE',
    );
  });
});
