import { canonicalJson } from './canonical-json.js';
import { UnsupportedError, sha256Hex, subtle, utf8Bytes } from './hash.js';

// Tree heads and the node's Ed25519 key, as src/provenance/tree-head.ts signs and checks them.

export const TREE_HEAD_TYPE = 'https://warden.dev/provenance/tree-head/v1';

export interface SignedTreeHead {
  sessionId: string;
  treeSize: number;
  rootHash: string;
  timestamp: number;
  keyId: string;
  signature: string;
}

/** The exact bytes signed: canonical JSON of the head with its type. */
export function treeHeadMessage(head: SignedTreeHead): string {
  return canonicalJson({
    payloadType: TREE_HEAD_TYPE,
    rootHash: head.rootHash,
    sessionId: head.sessionId,
    timestamp: head.timestamp,
    treeSize: head.treeSize,
  });
}

// SubjectPublicKeyInfo of an Ed25519 key: this 12-byte header (id-Ed25519, 1.3.101.112), then 32 key bytes.
const ED25519_SPKI_PREFIX = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
const PEM_RE = /^-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END PUBLIC KEY-----\r?\n?$/;

function base64Bytes(text: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    const bin = atob(text);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return undefined;
  }
}

function base64(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** The PEM Node writes for a DER key: 64-character base64 lines, final newline. */
function canonicalPem(der: Uint8Array): string {
  const lines = base64(der).match(/.{1,64}/g) ?? [];
  return `-----BEGIN PUBLIC KEY-----\n${lines.join('\n')}\n-----END PUBLIC KEY-----\n`;
}

export type PublicKeyRead =
  | { ok: true; key: CryptoKey; keyId: string; canonical: boolean }
  | { ok: false; problem: 'unreadable' | 'not-ed25519' };

/**
 * Reads an SPKI PEM as an Ed25519 verification key, with its key id (SHA-256 of the DER, hex) and whether
 * the PEM is the canonical spelling of the key. Throws UnsupportedError when this browser cannot import
 * Ed25519 keys at all (Chromium before 137), which says nothing about the bundle.
 */
export async function readPublicKey(pem: string): Promise<PublicKeyRead> {
  const body = PEM_RE.exec(pem)?.[1];
  const der = body === undefined ? undefined : base64Bytes(body.replace(/\s+/g, ''));
  if (!der || der.length < 2 || der[0] !== 0x30) return { ok: false, problem: 'unreadable' };
  const isEd25519 = der.length === 44 && ED25519_SPKI_PREFIX.every((b, i) => der[i] === b);
  if (!isEd25519) return { ok: false, problem: 'not-ed25519' };
  let key: CryptoKey;
  try {
    key = await subtle().importKey('spki', der, { name: 'Ed25519' }, false, ['verify']);
  } catch (err) {
    if ((err as Error).name === 'NotSupportedError')
      throw new UnsupportedError(
        'this browser cannot verify Ed25519 signatures with WebCrypto (Chromium 137+, Firefox 129+, Safari 17+ can)',
      );
    return { ok: false, problem: 'unreadable' };
  }
  return { ok: true, key, keyId: await sha256Hex(der), canonical: canonicalPem(der) === pem };
}

/** The head's Ed25519 signature (base64, 64 bytes, canonical spelling) verifies with `key`. */
export async function verifyTreeHeadSignature(head: SignedTreeHead, key: CryptoKey): Promise<boolean> {
  const sig = base64Bytes(head.signature);
  if (!sig || sig.length !== 64 || base64(sig) !== head.signature) return false;
  try {
    return await subtle().verify({ name: 'Ed25519' }, key, sig, utf8Bytes(treeHeadMessage(head)));
  } catch {
    return false;
  }
}
