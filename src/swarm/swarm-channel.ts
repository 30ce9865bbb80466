import { createCipheriv, createDecipheriv } from 'node:crypto';
import { WardenError } from '../core/index.js';
import { toBase64Url, fromBase64Url } from './bytes.js';
import {
  encodeHeader,
  ENVELOPE_VERSION,
  FRAME_BYTES,
  headerTooLarge,
  NONCE_BYTES,
  parseEnvelope,
  SIGNATURE_BYTES,
  TAG_BYTES,
  type EnvelopeHeader,
} from './envelope-format.js';
import type { NodeIdentity } from './identity.js';
import { ed25519Sign, ed25519Verify } from './keys.js';
import { ReplayGuard, type ReplayGuardOptions, type ReplayGuardState } from './replay-guard.js';
import { systemClock, systemRandom, type Clock, type RandomBytes } from './runtime.js';
import { deriveSessionKey, deriveTopicKey } from './session-key.js';
import { badSignature } from './signature.js';
import type { RegisteredNode, TrustRegistry } from './trust-registry.js';

/** Where an envelope goes: one node (pairwise key) or a topic (group key from the swarm key). */
export type Destination = { node: string } | { topic: string };

export interface OpenedEnvelope {
  header: EnvelopeHeader;
  payload: Buffer;
  /** The sender as the registry knows it. */
  sender: RegisteredNode;
}

export interface SwarmChannelOptions {
  identity: NodeIdentity;
  registry: TrustRegistry;
  /** 32-byte secret shared by swarm members; enables topic envelopes. */
  swarmKey?: Uint8Array;
  clock?: Clock;
  random?: RandomBytes;
  replay?: Omit<ReplayGuardOptions, 'clock'>;
  /** Largest payload sealed or opened. @default 16_777_216 */
  maxPayloadBytes?: number;
  /** First counter value; must exceed anything this node sent before. @default clock.now() * 1000 */
  initialCounter?: number;
}

/**
 * Seals and opens envelopes for one node. Seal: header as AES-256-GCM additional data, payload
 * encrypted, everything signed with the node's Ed25519 key. Open: sender resolved from the
 * registry, timestamp and replay checks, signature, then decryption.
 *
 * @example
 * const sealed = alice.seal({ node: bob.identity.nodeId }, Buffer.from('hi'), 'text/plain');
 * const { payload, sender } = bobChannel.open(sealed);
 */
export class SwarmChannel {
  readonly identity: NodeIdentity;
  readonly registry: TrustRegistry;
  readonly #guard: ReplayGuard;
  readonly #clock: Clock;
  readonly #random: RandomBytes;
  readonly #swarmKey: Buffer | undefined;
  readonly #maxPayload: number;
  readonly #sessions = new WeakMap<RegisteredNode, Buffer>();
  readonly #topics = new Map<string, Buffer>();
  #counter: number;

  constructor(options: SwarmChannelOptions) {
    this.identity = options.identity;
    this.registry = options.registry;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? systemRandom;
    this.#guard = new ReplayGuard({ ...options.replay, clock: this.#clock });
    this.#swarmKey = options.swarmKey ? Buffer.from(options.swarmKey) : undefined;
    if (this.#swarmKey && this.#swarmKey.length !== 32) throw new RangeError('swarmKey must be 32 bytes');
    this.#maxPayload = options.maxPayloadBytes ?? 16 * 1024 * 1024;
    this.#counter = options.initialCounter ?? this.#clock.now() * 1000;
  }

  /** Encrypts and signs `payload`. @throws SWARM_UNKNOWN_SENDER / SWARM_REVOKED for an unknown recipient */
  seal(to: Destination, payload: Uint8Array, type = 'application/octet-stream'): Buffer {
    if (payload.length > this.#maxPayload)
      throw new WardenError('INPUT_TOO_LARGE', 'Envelope payload is too large');
    const key = 'node' in to ? this.#sessionKey(this.registry.resolve(to.node)) : this.#topicKey(to.topic);
    const nonce = this.#random(NONCE_BYTES);
    const header: EnvelopeHeader = {
      v: ENVELOPE_VERSION,
      swarm: this.registry.swarmId,
      from: this.identity.nodeId,
      ...('node' in to ? { to: to.node } : { topic: to.topic }),
      ctr: this.#counter++,
      nonce: toBase64Url(nonce),
      ts: this.#clock.now(),
      type,
    };
    return sealWith(this.identity, header, key, nonce, payload);
  }

  /**
   * Authenticates, replay-checks and decrypts an envelope.
   * @throws WardenError SWARM_BAD_ENCODING, SWARM_MISDIRECTED, SWARM_UNKNOWN_SENDER, SWARM_REVOKED,
   * SWARM_FUTURE, SWARM_STALE, SWARM_REPLAY, SWARM_REORDERED, SWARM_BAD_SIGNATURE, SWARM_DECRYPT_FAILED
   */
  open(envelope: Uint8Array): OpenedEnvelope {
    const parsed = parseEnvelope(envelope);
    const { header } = parsed;
    if (parsed.sealed.length - TAG_BYTES > this.#maxPayload)
      throw new WardenError('INPUT_TOO_LARGE', 'Envelope payload is too large');
    if (header.swarm !== this.registry.swarmId) throw misdirected(`envelope is for swarm ${header.swarm}`);
    if (header.to !== undefined && header.to !== this.identity.nodeId)
      throw misdirected('envelope is for another node');
    const sender = this.registry.resolve(header.from);
    const ticket = this.#guard.check(header.from, header.ctr, header.nonce, header.ts);
    if (!ed25519Verify(sender.keys.ed25519, parsed.signed, parsed.signature))
      throw badSignature('envelope', 'Ed25519 signature is invalid');
    const key = header.topic !== undefined ? this.#topicKey(header.topic) : this.#sessionKey(sender);
    const payload = decrypt(
      key,
      fromBase64Url(header.nonce, 'nonce', NONCE_BYTES),
      parsed.headerBytes,
      parsed.sealed,
    );
    this.#guard.commit(ticket, header.ts);
    return { header, payload, sender };
  }

  /**
   * The replay state to persist (after each `open` for an exact guard, at least at shutdown) and pass
   * back as `replay.state` when this node restarts.
   */
  replayState(): ReplayGuardState {
    return this.#guard.snapshot();
  }

  #sessionKey(peer: RegisteredNode): Buffer {
    let key = this.#sessions.get(peer);
    if (!key) {
      const shared = this.identity.agree(peer.agreementKey);
      key = deriveSessionKey(
        shared,
        this.identity.agreementPublicKey,
        peer.agreementPublicKey,
        this.registry.swarmId,
      );
      this.#sessions.set(peer, key);
    }
    return key;
  }

  #topicKey(topic: string): Buffer {
    if (!this.#swarmKey) throw misdirected('this channel has no swarm key, so it cannot use topics');
    let key = this.#topics.get(topic);
    if (!key) {
      key = deriveTopicKey(this.#swarmKey, this.registry.swarmId, topic);
      this.#topics.set(topic, key);
    }
    return key;
  }
}

/**
 * Builds `0x01 | u16 header length | header | AES-256-GCM(payload) | tag | Ed25519 signature` in one
 * buffer. The signature covers every byte before it. Domain separation from signed documents needs
 * no prefix: their signing input starts with "warden-swarm-v1/" (0x77), an envelope with 0x01.
 * Exported for tests.
 */
export function sealWith(
  identity: NodeIdentity,
  header: EnvelopeHeader,
  key: Uint8Array,
  nonce: Uint8Array,
  payload: Uint8Array,
): Buffer {
  return sealRaw(identity, encodeHeader(header), key, nonce, payload);
}

/** `sealWith` for an already-serialised header (tests use it to forge headers). @internal */
export function sealRaw(
  identity: NodeIdentity,
  headerText: string,
  key: Uint8Array,
  nonce: Uint8Array,
  payload: Uint8Array,
): Buffer {
  const headerBytes = Buffer.from(headerText, 'utf8');
  if (headerTooLarge(headerBytes.length))
    throw new WardenError('INPUT_TOO_LARGE', 'Envelope header is too large');
  const bodyStart = FRAME_BYTES + headerBytes.length;
  const out = Buffer.allocUnsafe(bodyStart + payload.length + TAG_BYTES + SIGNATURE_BYTES);
  out[0] = ENVELOPE_VERSION;
  out.writeUInt16BE(headerBytes.length, 1);
  headerBytes.copy(out, FRAME_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(headerBytes);
  let at = bodyStart + cipher.update(payload).copy(out, bodyStart);
  at += cipher.final().copy(out, at);
  at += cipher.getAuthTag().copy(out, at);
  ed25519Sign(identity.signingKeys().ed25519, out.subarray(0, at)).copy(out, at);
  return out;
}

function decrypt(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Buffer): Buffer {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const first = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
    const last = decipher.final();
    return last.length === 0 ? first : Buffer.concat([first, last]);
  } catch (error: unknown) {
    throw new WardenError(
      'SWARM_DECRYPT_FAILED',
      'Envelope did not decrypt (wrong key or corrupted ciphertext)',
      { cause: error },
    );
  }
}

function misdirected(reason: string): WardenError {
  return new WardenError('SWARM_MISDIRECTED', `Envelope not for this node: ${reason}`);
}
