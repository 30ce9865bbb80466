import { hkdfSync } from 'node:crypto';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { describe, expect, it } from 'vitest';
import vector from './fixtures/mldsa65-acvp-keygen.json' with { type: 'json' };
import {
  ed25519PrivateKey,
  ed25519PublicKey,
  ed25519Sign,
  ed25519Verify,
  hkdfSha256,
  rawPublicKey,
  x25519,
  x25519PrivateKey,
  x25519PublicKey,
} from './keys.js';
import { HybridKeyPair, verifyHybrid } from './hybrid.js';
import { deriveSessionKey } from './session-key.js';
import { sha256 } from './bytes.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

// RFC 8032 section 7.1, TEST 1-3 (Ed25519).
const RFC8032 = [
  {
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    public: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    public: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    public: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
];

describe('RFC 8032 Ed25519 (node:crypto with raw keys imported as DER)', () => {
  it.each(RFC8032.map((v, i) => [i + 1, v] as const))('TEST %i', (_n, v) => {
    const priv = ed25519PrivateKey(hex(v.secret));
    expect(rawPublicKey(priv).toString('hex')).toBe(v.public);
    const sig = ed25519Sign(priv, hex(v.message));
    expect(sig.toString('hex')).toBe(v.signature);
    const pub = ed25519PublicKey(hex(v.public));
    expect(ed25519Verify(pub, hex(v.message), hex(v.signature))).toBe(true);
    expect(ed25519Verify(pub, Buffer.concat([hex(v.message), Buffer.from([0])]), hex(v.signature))).toBe(
      false,
    );
  });
});

describe('RFC 7748 X25519 section 6.1', () => {
  const a = '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a';
  const A = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
  const b = '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb';
  const B = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
  const K = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';

  it('derives both public keys and the shared secret both ways', () => {
    const alice = x25519PrivateKey(hex(a));
    const bob = x25519PrivateKey(hex(b));
    expect(rawPublicKey(alice).toString('hex')).toBe(A);
    expect(rawPublicKey(bob).toString('hex')).toBe(B);
    expect(x25519(alice, x25519PublicKey(hex(B))).toString('hex')).toBe(K);
    expect(x25519(bob, x25519PublicKey(hex(A))).toString('hex')).toBe(K);
  });

  it('session key = HKDF(K, SHA-256(sorted keys), "warden-swarm-v1:{swarm}") is symmetric', () => {
    const k1 = deriveSessionKey(hex(K), hex(A), hex(B), 'swarm-1');
    const k2 = deriveSessionKey(hex(K), hex(B), hex(A), 'swarm-1');
    expect(k1.equals(k2)).toBe(true);
    // A < B bytewise (0x85 < 0xde), so the salt hashes A then B.
    const manual = Buffer.from(
      hkdfSync('sha256', hex(K), sha256(hex(A), hex(B)), Buffer.from('warden-swarm-v1:swarm-1'), 32),
    );
    expect(k1.equals(manual)).toBe(true);
    expect(deriveSessionKey(hex(K), hex(A), hex(B), 'swarm-2').equals(k1)).toBe(false);
  });
});

describe('RFC 5869 HKDF-SHA256 test cases 1-3', () => {
  const range = (from: number, to: number): Buffer =>
    Buffer.from(Array.from({ length: to - from + 1 }, (_, i) => from + i));
  const cases = [
    {
      ikm: Buffer.alloc(22, 0x0b),
      salt: range(0x00, 0x0c),
      info: range(0xf0, 0xf9),
      length: 42,
      okm: '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    },
    {
      ikm: range(0x00, 0x4f),
      salt: range(0x60, 0xaf),
      info: range(0xb0, 0xff),
      length: 82,
      okm: 'b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87',
    },
    {
      ikm: Buffer.alloc(22, 0x0b),
      salt: Buffer.alloc(0),
      info: Buffer.alloc(0),
      length: 42,
      okm: '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
    },
  ];
  it.each(cases.map((c, i) => [i + 1, c] as const))('test case %i', (_n, c) => {
    expect(hkdfSha256(c.ikm, c.salt, c.info, c.length).toString('hex')).toBe(c.okm);
  });
});

describe('ML-DSA-65 (FIPS 204)', () => {
  it('NIST ACVP keyGen vector: seed → public key', () => {
    const { publicKey } = ml_dsa65.keygen(hex(vector.seed));
    expect(Buffer.from(publicKey).toString('hex').toUpperCase()).toBe(vector.pk);
  });

  it('deterministic signing is reproducible and verifies; context and message are bound', () => {
    const { publicKey, secretKey } = ml_dsa65.keygen(hex(vector.seed));
    const msg = Buffer.from('warden');
    const ctx = Buffer.from('warden-swarm-v1');
    const s1 = ml_dsa65.sign(msg, secretKey, { context: ctx, extraEntropy: false });
    const s2 = ml_dsa65.sign(msg, secretKey, { context: ctx, extraEntropy: false });
    expect(Buffer.from(s1).equals(Buffer.from(s2))).toBe(true);
    expect(s1.length).toBe(3309);
    expect(ml_dsa65.verify(s1, msg, publicKey, { context: ctx })).toBe(true);
    expect(ml_dsa65.verify(s1, msg, publicKey, { context: Buffer.from('other') })).toBe(false);
    expect(ml_dsa65.verify(s1, Buffer.from('wardem'), publicKey, { context: ctx })).toBe(false);
  });

  it('hybrid key pair from fixed seeds embeds the ACVP public key and the RFC 8032 key', () => {
    const pair = HybridKeyPair.fromSeeds(hex(RFC8032[0]!.secret), hex(vector.seed));
    const raw = Buffer.from(pair.publicKey, 'base64url');
    expect(raw.subarray(0, 2)).toEqual(Buffer.from([1, 4]));
    expect(raw.subarray(2, 34).toString('hex')).toBe(RFC8032[0]!.public);
    expect(raw.subarray(34).toString('hex').toUpperCase()).toBe(vector.pk);
    const sig = pair.sign(Buffer.from('m'));
    expect(verifyHybrid(pair.publicKey, Buffer.from('m'), sig)).toBe(true);
  });
});
