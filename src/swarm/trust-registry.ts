import { WardenError } from '../core/index.js';
import { decodeKey } from './encoding.js';
import { verifyDocument } from './document.js';
import { ed25519PublicKey } from './keys.js';
import { deriveNodeId } from './node-id.js';
import {
  assertIdBinding,
  parseRegistration,
  verifyRegistration,
  verifySelfSigned,
  type InviteBody,
  type RegistrationBody,
  type SignedInvite,
  type SignedRegistration,
  type VerifiedRegistration,
} from './registration.js';
import { sameKeys, verifyRotation, type SignedRotation } from './rotation.js';
import type { NodePublicKeys } from './identity.js';
import { systemClock, type Clock } from './runtime.js';
import { inviteBodySchema, parseWith, signedSchema } from './schemas.js';
import type { VerifyingKeys } from './signature.js';
import {
  MemoryTrustStore,
  type Admission,
  type Revocation,
  type StoredNode,
  type TrustStore,
} from './trust-store.js';

/** A trust anchor allowed to sign invites: pass an admin identity's `publicKeys`. */
export interface AdminKey {
  signingKey: string;
  pqKey?: string;
}

export interface TrustRegistryOptions {
  swarmId: string;
  /** Keys whose invites admit nodes. @default [] */
  admins?: AdminKey[];
  /** Node ids admitted without an invite. @default [] */
  allowList?: Iterable<string>;
  /** @default a MemoryTrustStore */
  store?: TrustStore;
  clock?: Clock;
  /** Oldest registration `issuedAt` accepted at registration time. @default 600_000 (10 min) */
  maxRegistrationAgeMs?: number;
  /** How far in the future `issuedAt` may be. @default 60_000 */
  maxClockSkewMs?: number;
}

/** A node as the registry knows it: the only source of keys for verifying its messages. */
export interface RegisteredNode extends VerifiedRegistration {
  nodeId: string;
  capabilities: readonly string[];
  registeredAt: number;
  admission: Admission;
  /** The node's current registration: its current keys (after any rotation) and capabilities. */
  registration: SignedRegistration;
  /** Every key rotation since the node's first registration, oldest first. */
  rotations: readonly SignedRotation[];
}

/**
 * Who is in the swarm. Senders are resolved here by node id, never from keys a message carries.
 * Admission needs a valid self-signature plus an admin invite or an allow-list entry. A known node's
 * keys change only through `rotate` (signed by every old and every new key), never by re-registering;
 * a hybrid node stays hybrid. Revocation takes effect in memory before it is persisted, so the next
 * `resolve` already fails.
 */
export class TrustRegistry {
  readonly swarmId: string;
  readonly #store: TrustStore;
  readonly #clock: Clock;
  readonly #admins = new Map<string, VerifyingKeys>();
  readonly #allow: Set<string>;
  readonly #nodes = new Map<string, RegisteredNode>();
  readonly #revoked = new Map<string, Revocation>();
  readonly #maxAgeMs: number;
  readonly #maxSkewMs: number;

  private constructor(options: TrustRegistryOptions) {
    this.swarmId = options.swarmId;
    this.#store = options.store ?? new MemoryTrustStore();
    this.#clock = options.clock ?? systemClock;
    this.#allow = new Set(options.allowList ?? []);
    this.#maxAgeMs = options.maxRegistrationAgeMs ?? 600_000;
    this.#maxSkewMs = options.maxClockSkewMs ?? 60_000;
    for (const admin of options.admins ?? []) {
      const raw = decodeKey(admin.signingKey, 'ed25519');
      const mldsa65 = admin.pqKey === undefined ? undefined : decodeKey(admin.pqKey, 'mldsa65');
      this.#admins.set(deriveNodeId(raw), { ed25519: ed25519PublicKey(raw), mldsa65 });
    }
  }

  /** Opens a registry and loads its store, re-verifying every stored self-signature. */
  static async open(options: TrustRegistryOptions): Promise<TrustRegistry> {
    const registry = new TrustRegistry(options);
    const snapshot = await registry.#store.load();
    for (const revocation of snapshot.revocations) registry.#revoked.set(revocation.nodeId, revocation);
    for (const stored of snapshot.nodes) registry.#remember(stored, verifyStored(stored));
    return registry;
  }

  /**
   * Admits a node, or updates a known node's capabilities. A known node re-registers with exactly
   * its current keys (so the document is signed by every one of them) and a newer `issuedAt`; it
   * needs no second admission, but stays under its invite's capability ceiling. To change keys, use
   * `rotate`.
   * @throws WardenError SWARM_BAD_SIGNATURE, SWARM_BAD_ENCODING, SWARM_NOT_ADMITTED, SWARM_REVOKED,
   * SWARM_STALE, SWARM_FUTURE, SWARM_DOWNGRADE, SWARM_KEY_MISMATCH
   */
  async register(registration: unknown, invite?: SignedInvite): Promise<RegisteredNode> {
    const parsed = parseRegistration(registration);
    const { body } = parsed;
    if (body.swarmId !== this.swarmId)
      throw notAdmitted(body.nodeId, `registration is for swarm ${body.swarmId}`);
    this.#assertNotRevoked(body.nodeId);
    const existing = this.#nodes.get(body.nodeId);
    // A known node's id was bound when it was first admitted (and carried through its rotations);
    // its keys must then equal the registered ones, checked below.
    if (!existing) assertIdBinding(body.nodeId, body.signingKey);
    const verified = verifySelfSigned(parsed);
    const now = this.#clock.now();
    if (existing?.registration.signature === parsed.signature) return existing; // idempotent
    this.#checkDates(body, now, existing);
    if (existing) {
      assertCurrentKeys(existing, body);
      assertCeiling(ceilingOf(existing.admission), body.nodeId, body.capabilities);
    }
    const admission = existing?.admission ?? this.#admit(verified, invite, now);
    const stored: StoredNode = {
      registration: { body, signature: verified.signature },
      admission,
      registeredAt: now,
      ...(existing && existing.rotations.length > 0 ? { rotations: [...existing.rotations] } : {}),
    };
    const node = this.#remember(stored, verified);
    await this.#store.saveNode(stored);
    return node;
  }

  /**
   * Applies a key rotation made with `createRotation`: the node's keys become the new
   * registration's keys, its node id and admission stay. The rotation must retire the node's current
   * keys, be signed by all of them and by all the new ones, keep a hybrid node hybrid, and be newer
   * than the node's current registration. From then on only the new keys verify its receipts and
   * envelopes, and envelopes to it use its new X25519 key.
   * @throws WardenError SWARM_BAD_SIGNATURE, SWARM_BAD_ENCODING, SWARM_DOWNGRADE, SWARM_KEY_MISMATCH,
   * SWARM_UNKNOWN_SENDER, SWARM_REVOKED, SWARM_NOT_ADMITTED, SWARM_STALE, SWARM_FUTURE
   */
  async rotate(rotation: unknown): Promise<RegisteredNode> {
    const verified = verifyRotation(rotation);
    const { nodeId, next } = verified;
    if (next.body.swarmId !== this.swarmId)
      throw notAdmitted(nodeId, `rotation is for swarm ${next.body.swarmId}`);
    this.#assertNotRevoked(nodeId);
    const existing = this.#nodes.get(nodeId);
    if (!existing) {
      throw new WardenError(
        'SWARM_UNKNOWN_SENDER',
        `Node ${nodeId} is not registered; register it before rotating its keys`,
        {
          details: { nodeId },
        },
      );
    }
    if (!sameKeys(verified.previous, existing.body)) {
      throw new WardenError(
        'SWARM_KEY_MISMATCH',
        `Rotation retires keys that are not node ${nodeId}'s current keys (a replayed or superseded rotation)`,
        { details: { nodeId } },
      );
    }
    const now = this.#clock.now();
    // No age limit: a registry that was offline catches up by applying the node's rotations in order,
    // and an old rotation applies only while the registry still holds exactly the keys it retires.
    this.#checkDates(next.body, now, existing, false);
    assertCeiling(ceilingOf(existing.admission), nodeId, next.body.capabilities);
    const stored: StoredNode = {
      registration: { body: next.body, signature: next.signature },
      admission: existing.admission,
      registeredAt: now,
      rotations: [...existing.rotations, verified.rotation],
    };
    const node = this.#remember(stored, next);
    await this.#store.saveNode(stored);
    return node;
  }

  /**
   * The registered node for `nodeId`.
   * @throws WardenError SWARM_REVOKED or SWARM_UNKNOWN_SENDER
   */
  resolve(nodeId: string): RegisteredNode {
    this.#assertNotRevoked(nodeId);
    const node = this.#nodes.get(nodeId);
    if (!node)
      throw new WardenError('SWARM_UNKNOWN_SENDER', `Node ${nodeId} is not registered`, {
        details: { nodeId },
      });
    return node;
  }

  /** Revokes a node: effective for every later `resolve` as soon as this is called, then persisted. */
  async revoke(nodeId: string, reason?: string): Promise<void> {
    const revocation: Revocation = { nodeId, revokedAt: this.#clock.now(), ...(reason ? { reason } : {}) };
    this.#revoked.set(nodeId, revocation);
    this.#nodes.delete(nodeId);
    await this.#store.saveRevocation(revocation);
  }

  /** Adds a node id to the allow-list (admission without an invite). */
  allow(nodeId: string): void {
    this.#allow.add(nodeId);
  }

  isRevoked(nodeId: string): boolean {
    return this.#revoked.has(nodeId);
  }

  has(nodeId: string): boolean {
    return this.#nodes.has(nodeId) && !this.#revoked.has(nodeId);
  }

  list(): RegisteredNode[] {
    return [...this.#nodes.values()];
  }

  #assertNotRevoked(nodeId: string): void {
    const revocation = this.#revoked.get(nodeId);
    if (revocation) {
      throw new WardenError('SWARM_REVOKED', `Node ${nodeId} has been revoked`, {
        details: { ...revocation },
      });
    }
  }

  /** `issuedAt` within the clock skew, newer than the node's current registration, not too old. */
  #checkDates(
    body: RegistrationBody,
    now: number,
    existing: RegisteredNode | undefined,
    checkAge = true,
  ): void {
    const details = { nodeId: body.nodeId };
    if (body.issuedAt > now + this.#maxSkewMs)
      throw new WardenError('SWARM_FUTURE', 'Registration is dated in the future', { details });
    if (existing && body.issuedAt <= existing.body.issuedAt)
      throw new WardenError('SWARM_STALE', 'An equal or newer registration is already known', { details });
    if (checkAge && body.issuedAt < now - this.#maxAgeMs)
      throw new WardenError('SWARM_STALE', 'Registration is too old', { details });
  }

  #admit(verified: VerifiedRegistration, invite: SignedInvite | undefined, now: number): Admission {
    const { body } = verified;
    if (invite !== undefined) {
      const parsed = parseWith(signedSchema(inviteBodySchema), invite, 'invite');
      this.#checkInvite(parsed.body, body.nodeId, body.capabilities, now);
      const adminKeys = this.#admins.get(parsed.body.adminId);
      if (!adminKeys) throw notAdmitted(body.nodeId, `invite signer ${parsed.body.adminId} is not an admin`);
      verifyDocument(adminKeys, parsed);
      return { by: 'invite', invite: parsed };
    }
    if (this.#allow.has(body.nodeId)) return { by: 'allow-list' };
    throw notAdmitted(body.nodeId, 'no invite and not on the allow-list');
  }

  #checkInvite(invite: InviteBody, nodeId: string, capabilities: readonly string[], now: number): void {
    if (invite.swarmId !== this.swarmId) throw notAdmitted(nodeId, `invite is for swarm ${invite.swarmId}`);
    if (invite.nodeId !== nodeId) throw notAdmitted(nodeId, 'invite is for another node');
    if (invite.expiresAt <= now) throw notAdmitted(nodeId, 'invite has expired');
    assertCeiling(invite.capabilities, nodeId, capabilities);
  }

  #remember(stored: StoredNode, verified: VerifiedRegistration): RegisteredNode {
    const node: RegisteredNode = {
      ...verified,
      nodeId: verified.body.nodeId,
      capabilities: Object.freeze([...verified.body.capabilities]),
      registeredAt: stored.registeredAt,
      admission: stored.admission,
      registration: stored.registration,
      rotations: Object.freeze([...(stored.rotations ?? [])]),
    };
    if (!this.#revoked.has(node.nodeId)) this.#nodes.set(node.nodeId, node);
    return node;
  }
}

/**
 * A known node re-registers with exactly its registered keys: the self-signature then proves every
 * one of them, and an Ed25519 key alone can neither drop the ML-DSA key nor swap the X25519 key.
 */
function assertCurrentKeys(existing: RegisteredNode, body: NodePublicKeys & { nodeId: string }): void {
  const details = { nodeId: body.nodeId };
  if (existing.body.pqKey !== undefined && body.pqKey === undefined) {
    throw new WardenError(
      'SWARM_DOWNGRADE',
      `Node ${body.nodeId} is hybrid; a registration without its ML-DSA-65 key is refused`,
      {
        details,
      },
    );
  }
  if (!sameKeys(existing.body, body)) {
    throw new WardenError(
      'SWARM_KEY_MISMATCH',
      `Registration names keys other than node ${body.nodeId}'s registered keys; change keys with a signed rotation (createRotation, TrustRegistry.rotate)`,
      { details },
    );
  }
}

/** The capabilities an invite granted; undefined = any (an allow-listed node, or an invite without a list). */
function ceilingOf(admission: Admission): readonly string[] | undefined {
  return admission.by === 'invite' ? admission.invite.body.capabilities : undefined;
}

/** An invited node's capabilities stay within its invite, when admitted and whenever it re-registers or rotates. */
function assertCeiling(
  allowed: readonly string[] | undefined,
  nodeId: string,
  capabilities: readonly string[],
): void {
  const extra = allowed ? capabilities.filter((c) => !allowed.includes(c)) : [];
  if (extra.length > 0)
    throw notAdmitted(nodeId, `capabilities not granted by the invite: ${extra.join(', ')}`);
}

/**
 * Re-verifies a stored node: its registration alone, or, after rotations, the chain from the key
 * its id derives from through every rotation to the keys of its current registration.
 * @throws WardenError SWARM_BAD_ENCODING or SWARM_BAD_SIGNATURE
 */
function verifyStored(stored: StoredNode): VerifiedRegistration {
  const rotations = stored.rotations ?? [];
  if (rotations.length === 0) return verifyRegistration(stored.registration);
  const registration = parseRegistration(stored.registration);
  const nodeId = registration.body.nodeId;
  let keys: NodePublicKeys | undefined;
  for (const rotation of rotations) {
    const verified = verifyRotation(rotation);
    if (verified.nodeId !== nodeId) throw brokenChain(nodeId);
    if (keys === undefined) assertIdBinding(nodeId, verified.previous.signingKey);
    else if (!sameKeys(verified.previous, keys)) throw brokenChain(nodeId);
    keys = verified.next.body;
  }
  const verified = verifySelfSigned(registration);
  if (!keys || !sameKeys(verified.body, keys)) throw brokenChain(nodeId);
  return verified;
}

function brokenChain(nodeId: string): WardenError {
  return new WardenError(
    'SWARM_BAD_ENCODING',
    `Stored rotations of node ${nodeId} do not chain to its registration`,
    {
      details: { nodeId },
    },
  );
}

function notAdmitted(nodeId: string, reason: string): WardenError {
  return new WardenError('SWARM_NOT_ADMITTED', `Node ${nodeId} not admitted: ${reason}`, {
    details: { nodeId },
  });
}
