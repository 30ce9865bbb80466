import { WardenError } from '../core/index.js';
import { decodeKey } from './encoding.js';
import { verifyDocument } from './document.js';
import { ed25519PublicKey } from './keys.js';
import { deriveNodeId } from './node-id.js';
import {
  verifyRegistration,
  type InviteBody,
  type SignedInvite,
  type SignedRegistration,
  type VerifiedRegistration,
} from './registration.js';
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
  registration: SignedRegistration;
}

/**
 * Who is in the swarm. Senders are resolved here by node id, never from keys a message carries.
 * Admission needs a valid self-signature plus an admin invite or an allow-list entry; revocation
 * takes effect in memory before it is persisted, so the next `resolve` already fails.
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
    for (const stored of snapshot.nodes) registry.#remember(stored, verifyRegistration(stored.registration));
    return registry;
  }

  /**
   * Admits a node. Re-registering an admitted node with a newer document (key rotation, new
   * capabilities) needs no second admission.
   * @throws WardenError SWARM_BAD_SIGNATURE, SWARM_BAD_ENCODING, SWARM_NOT_ADMITTED, SWARM_REVOKED, SWARM_STALE, SWARM_FUTURE
   */
  async register(registration: unknown, invite?: SignedInvite): Promise<RegisteredNode> {
    const verified = verifyRegistration(registration);
    const { body } = verified;
    if (body.swarmId !== this.swarmId)
      throw notAdmitted(body.nodeId, `registration is for swarm ${body.swarmId}`);
    this.#assertNotRevoked(body.nodeId);
    const now = this.#clock.now();
    if (body.issuedAt > now + this.#maxSkewMs) {
      throw new WardenError('SWARM_FUTURE', 'Registration is dated in the future', {
        details: { nodeId: body.nodeId },
      });
    }
    const existing = this.#nodes.get(body.nodeId);
    if (existing && body.issuedAt <= existing.body.issuedAt) {
      if (existing.registration.signature === (registration as SignedRegistration).signature) return existing;
      throw new WardenError('SWARM_STALE', 'An equal or newer registration is already known', {
        details: { nodeId: body.nodeId },
      });
    }
    if (body.issuedAt < now - this.#maxAgeMs) {
      throw new WardenError('SWARM_STALE', 'Registration is too old', { details: { nodeId: body.nodeId } });
    }
    const admission = existing?.admission ?? this.#admit(verified, invite, now);
    const stored: StoredNode = {
      registration: { body, signature: verified.signature },
      admission,
      registeredAt: now,
    };
    const node = this.#remember(stored, verified);
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
    const allowed = invite.capabilities;
    const extra = allowed ? capabilities.filter((c) => !allowed.includes(c)) : [];
    if (extra.length > 0)
      throw notAdmitted(nodeId, `capabilities not granted by the invite: ${extra.join(', ')}`);
  }

  #remember(stored: StoredNode, verified: VerifiedRegistration): RegisteredNode {
    const node: RegisteredNode = {
      ...verified,
      nodeId: verified.body.nodeId,
      capabilities: Object.freeze([...verified.body.capabilities]),
      registeredAt: stored.registeredAt,
      admission: stored.admission,
      registration: stored.registration,
    };
    if (!this.#revoked.has(node.nodeId)) this.#nodes.set(node.nodeId, node);
    return node;
  }
}

function notAdmitted(nodeId: string, reason: string): WardenError {
  return new WardenError('SWARM_NOT_ADMITTED', `Node ${nodeId} not admitted: ${reason}`, {
    details: { nodeId },
  });
}
