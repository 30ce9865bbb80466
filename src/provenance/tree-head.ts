import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { canonicalJson } from '../core/index.js';
import { sha256Hex } from './chain.js';

/** What a tree head signature covers, and its domain separator. */
export const TREE_HEAD_TYPE = 'https://warden.dev/provenance/tree-head/v1';

/** A session's Merkle tree at one size: the statement the node signs after commits. */
export interface TreeHead {
  sessionId: string;
  treeSize: number;
  rootHash: string;
  /** Epoch milliseconds at signing. */
  timestamp: number;
}

export interface SignedTreeHead extends TreeHead {
  /** SHA-256 (hex) of the signing key's SubjectPublicKeyInfo DER. */
  keyId: string;
  /** Ed25519 signature over treeHeadMessage(head), base64. */
  signature: string;
}

/** The exact bytes signed: RFC 8785 canonical JSON of the head with its type, so no field can be confused. */
export function treeHeadMessage(head: TreeHead): string {
  return canonicalJson({
    payloadType: TREE_HEAD_TYPE,
    rootHash: head.rootHash,
    sessionId: head.sessionId,
    timestamp: head.timestamp,
    treeSize: head.treeSize,
  });
}

/** keyId of a public key: SHA-256 of its SPKI DER, hex. */
export function publicKeyId(publicKey: KeyObject): string {
  return sha256Hex(publicKey.export({ type: 'spki', format: 'der' }));
}

/**
 * What signs this node's tree heads. Whoever opens the backend loads the key and lends the store this; the
 * store signs with it but never reads or writes the key file, and the public half is asked of the signer.
 */
export interface TreeHeadSigner {
  /** SHA-256 (hex) of the public key's SubjectPublicKeyInfo DER. */
  readonly keyId: string;
  readonly publicKey: KeyObject;
  /** SPKI PEM of the public key, as bundles carry it. */
  readonly publicKeyPem: string;
  sign(head: TreeHead): SignedTreeHead;
}

/**
 * The node's Ed25519 tree-head key. The private half stays in a private field: it is never serialised,
 * printed or logged (toJSON and inspect show the key id only).
 */
export class TreeHeadKey implements TreeHeadSigner {
  readonly #privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly keyId: string;
  readonly publicKeyPem: string;

  private constructor(privateKey: KeyObject) {
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new TypeError('tree-head keys are Ed25519');
    this.#privateKey = privateKey;
    this.publicKey = createPublicKey(privateKey);
    this.keyId = publicKeyId(this.publicKey);
    this.publicKeyPem = this.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  static generate(): TreeHeadKey {
    return new TreeHeadKey(generateKeyPairSync('ed25519').privateKey);
  }

  static fromPrivatePem(pem: string): TreeHeadKey {
    return new TreeHeadKey(createPrivateKey(pem));
  }

  /** PKCS#8 PEM of the private key, for the key file only. */
  exportPrivatePem(): string {
    return this.#privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }

  sign(head: TreeHead): SignedTreeHead {
    const signature = sign(null, Buffer.from(treeHeadMessage(head)), this.#privateKey).toString('base64');
    return {
      sessionId: head.sessionId,
      treeSize: head.treeSize,
      rootHash: head.rootHash,
      timestamp: head.timestamp,
      keyId: this.keyId,
      signature,
    };
  }

  toJSON(): { keyId: string } {
    return { keyId: this.keyId };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `TreeHeadKey { keyId: '${this.keyId}' }`;
  }
}

/** Checks a signed head against a public key (KeyObject or SPKI PEM). False on any malformed input. */
export function verifyTreeHeadSignature(head: SignedTreeHead, publicKey: KeyObject | string): boolean {
  try {
    const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
    if (key.asymmetricKeyType !== 'ed25519') return false;
    const sig = Buffer.from(head.signature, 'base64');
    if (sig.length !== 64 || sig.toString('base64') !== head.signature) return false;
    return verify(null, Buffer.from(treeHeadMessage(head)), key, sig);
  } catch {
    return false;
  }
}
