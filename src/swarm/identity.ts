import type { KeyObject } from 'node:crypto';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { WardenError } from '../core/index.js';
import { badEncoding } from './bytes.js';
import { encodeKey } from './encoding.js';
import { ed25519PrivateKey, rawPublicKey, x25519, x25519PrivateKey } from './keys.js';
import { deriveNodeId, isNodeId } from './node-id.js';
import { systemRandom, type RandomBytes } from './runtime.js';
import { signBytes, type SigningKeys } from './signature.js';

/** The secret seeds an identity is rebuilt from (what an identity file protects). */
export interface IdentitySecrets {
  /** RFC 8032 Ed25519 private seed, 32 bytes. */
  ed25519Seed: Uint8Array;
  /** RFC 7748 X25519 private scalar, 32 bytes. */
  x25519Key: Uint8Array;
  /** FIPS 204 ML-DSA-65 key-generation seed ξ, 32 bytes; absent for a classical-only node. */
  mldsa65Seed?: Uint8Array | undefined;
}

/** Encoded public keys, as they appear in registration documents and identity files. */
export interface NodePublicKeys {
  signingKey: string;
  agreementKey: string;
  pqKey?: string;
}

export interface GenerateIdentityOptions {
  /** @default node:crypto randomBytes */
  random?: RandomBytes;
  /** Also create an ML-DSA-65 key so registrations and receipts carry hybrid signatures. @default true */
  postQuantum?: boolean;
}

export type RotateIdentityOptions = GenerateIdentityOptions;

/**
 * A swarm node's keys: Ed25519 for signing, X25519 for key agreement and optionally ML-DSA-65.
 * The node id is derived from the first Ed25519 key and kept across key rotations (`rotate()`).
 *
 * @example
 * const me = NodeIdentity.generate();
 * me.nodeId; // 'wn1_…' derived from the Ed25519 public key
 */
export class NodeIdentity {
  readonly nodeId: string;
  readonly signingPublicKey: Buffer;
  readonly agreementPublicKey: Buffer;
  readonly pqPublicKey: Uint8Array | undefined;
  readonly publicKeys: NodePublicKeys;
  readonly #secrets: IdentitySecrets;
  readonly #signing: SigningKeys;
  readonly #agreement: KeyObject;
  readonly #random: RandomBytes;

  private constructor(secrets: IdentitySecrets, random: RandomBytes, nodeId?: string) {
    this.#secrets = {
      ed25519Seed: Buffer.from(secrets.ed25519Seed),
      x25519Key: Buffer.from(secrets.x25519Key),
      mldsa65Seed: secrets.mldsa65Seed ? Buffer.from(secrets.mldsa65Seed) : undefined,
    };
    this.#random = random;
    const ed = ed25519PrivateKey(secrets.ed25519Seed);
    this.#agreement = x25519PrivateKey(secrets.x25519Key);
    const pq = secrets.mldsa65Seed ? ml_dsa65.keygen(secrets.mldsa65Seed) : undefined;
    this.#signing = { ed25519: ed, mldsa65: pq?.secretKey };
    this.signingPublicKey = rawPublicKey(ed);
    this.agreementPublicKey = rawPublicKey(this.#agreement);
    this.pqPublicKey = pq?.publicKey;
    if (nodeId !== undefined && !isNodeId(nodeId)) throw badEncoding('Identity node id is invalid');
    this.nodeId = nodeId ?? deriveNodeId(this.signingPublicKey);
    this.publicKeys = {
      signingKey: encodeKey('ed25519', this.signingPublicKey),
      agreementKey: encodeKey('x25519', this.agreementPublicKey),
      ...(pq ? { pqKey: encodeKey('mldsa65', pq.publicKey) } : {}),
    };
  }

  static generate(options: GenerateIdentityOptions = {}): NodeIdentity {
    const random = options.random ?? systemRandom;
    const postQuantum = options.postQuantum ?? true;
    return new NodeIdentity(
      { ed25519Seed: random(32), x25519Key: random(32), mldsa65Seed: postQuantum ? random(32) : undefined },
      random,
    );
  }

  /**
   * Rebuilds an identity from its secret seeds (for example after loading an identity file).
   * `nodeId` is for a node that rotated its keys; by default it is derived from the Ed25519 key.
   */
  static fromSecrets(
    secrets: IdentitySecrets,
    random: RandomBytes = systemRandom,
    nodeId?: string,
  ): NodeIdentity {
    return new NodeIdentity(secrets, random, nodeId);
  }

  /**
   * Fresh keys for this node, keeping its node id: the `next` identity of `createRotation`.
   * A hybrid node stays hybrid.
   * @throws WardenError SWARM_DOWNGRADE for `postQuantum: false` on a hybrid node
   */
  rotate(options: RotateIdentityOptions = {}): NodeIdentity {
    const random = options.random ?? this.#random;
    const postQuantum = options.postQuantum ?? true;
    if (this.postQuantum && !postQuantum) {
      throw new WardenError(
        'SWARM_DOWNGRADE',
        `Node ${this.nodeId} is hybrid; its next keys must include ML-DSA-65`,
      );
    }
    const secrets = {
      ed25519Seed: random(32),
      x25519Key: random(32),
      mldsa65Seed: postQuantum ? random(32) : undefined,
    };
    return new NodeIdentity(secrets, random, this.nodeId);
  }

  /** True when this node signs documents with hybrid Ed25519 + ML-DSA-65 signatures. */
  get postQuantum(): boolean {
    return this.pqPublicKey !== undefined;
  }

  /** Copies of the secret seeds. Handle with care: whoever holds them is this node. */
  exportSecrets(): IdentitySecrets {
    const s = this.#secrets;
    return {
      ed25519Seed: Buffer.from(s.ed25519Seed),
      x25519Key: Buffer.from(s.x25519Key),
      ...(s.mldsa65Seed ? { mldsa65Seed: Buffer.from(s.mldsa65Seed) } : {}),
    };
  }

  /** Versioned signature over `data` for `purpose`: hybrid if the node has an ML-DSA key, unless `classical`. */
  sign(purpose: string, data: Uint8Array, classical = false): Buffer {
    return signBytes(
      classical ? { ed25519: this.#signing.ed25519 } : this.#signing,
      purpose,
      data,
      this.#random,
    );
  }

  /** The private signing keys, for signing documents inside this module. @internal */
  signingKeys(): SigningKeys {
    return this.#signing;
  }

  /** Raw X25519 shared secret with a peer's agreement key. */
  agree(peerAgreementKey: KeyObject): Buffer {
    return x25519(this.#agreement, peerAgreementKey);
  }

  /** The byte source this identity was built with. @internal */
  get random(): RandomBytes {
    return this.#random;
  }
}
