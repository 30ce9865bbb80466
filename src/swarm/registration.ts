import type { KeyObject } from 'node:crypto';
import type { z } from 'zod';
import { WardenError } from '../core/index.js';
import { decodeKey } from './encoding.js';
import { signDocument, verifyDocument, type SignedDocument } from './document.js';
import type { NodeIdentity } from './identity.js';
import { ed25519PublicKey, x25519PublicKey } from './keys.js';
import { deriveNodeId } from './node-id.js';
import { systemClock, type Clock } from './runtime.js';
import { inviteBodySchema, parseWith, registrationBodySchema, signedSchema } from './schemas.js';
import type { VerifyingKeys } from './signature.js';

export type RegistrationBody = z.infer<typeof registrationBodySchema>;
export type InviteBody = z.infer<typeof inviteBodySchema>;
/** A node's self-signed registration: node id, both public keys, capabilities, timestamp. */
export type SignedRegistration = SignedDocument<RegistrationBody>;
/** An admin's signed admission of one node id into one swarm. */
export type SignedInvite = SignedDocument<InviteBody>;

/** Keys and facts proven by a valid self-signed registration. */
export interface VerifiedRegistration {
  body: RegistrationBody;
  signature: string;
  keys: VerifyingKeys;
  agreementKey: KeyObject;
  agreementPublicKey: Buffer;
}

export interface CreateRegistrationOptions {
  swarmId: string;
  capabilities?: string[];
  clock?: Clock;
}

/** Builds and signs (hybrid if the node has an ML-DSA key) this node's registration document. */
export function createRegistration(
  identity: NodeIdentity,
  options: CreateRegistrationOptions,
): SignedRegistration {
  const body: RegistrationBody = {
    kind: 'warden.swarm.registration',
    v: 1,
    swarmId: options.swarmId,
    nodeId: identity.nodeId,
    ...identity.publicKeys,
    capabilities: [...(options.capabilities ?? [])],
    issuedAt: (options.clock ?? systemClock).now(),
  };
  parseWith(registrationBodySchema, body, 'registration');
  return signDocument(identity.signingKeys(), body, identity.random);
}

/**
 * Checks a first registration: its shape, that its node id is derived from its signing key, and its
 * self-signature (proof of possession of every private key it names, ML-DSA included).
 * Says nothing about admission: that is the registry's decision. A node that rotated its Ed25519 key
 * keeps its id, so its later registrations verify only in a registry that holds its rotations.
 * @throws WardenError SWARM_BAD_ENCODING or SWARM_BAD_SIGNATURE
 */
export function verifyRegistration(doc: unknown): VerifiedRegistration {
  const parsed = parseRegistration(doc);
  assertIdBinding(parsed.body.nodeId, parsed.body.signingKey);
  return verifySelfSigned(parsed);
}

/** Shape check only. @throws SWARM_BAD_ENCODING @internal */
export function parseRegistration(doc: unknown): SignedRegistration {
  return parseWith(signedSchema(registrationBodySchema), doc, 'registration');
}

/** Refuses a node id that is not derived from `signingKey`. @throws SWARM_BAD_ENCODING @internal */
export function assertIdBinding(nodeId: string, signingKey: string): void {
  if (deriveNodeId(decodeKey(signingKey, 'ed25519')) !== nodeId) {
    throw new WardenError('SWARM_BAD_ENCODING', 'Registration node id is not derived from its signing key', {
      details: { nodeId },
    });
  }
}

/**
 * Verifies a parsed registration's self-signature with the keys it names, without the node-id
 * binding: for a node whose id the registry already bound (at its first registration, then through
 * its rotations). @throws SWARM_BAD_ENCODING or SWARM_BAD_SIGNATURE @internal
 */
export function verifySelfSigned(parsed: SignedRegistration): VerifiedRegistration {
  const body = parsed.body;
  const signingRaw = decodeKey(body.signingKey, 'ed25519');
  const agreementPublicKey = decodeKey(body.agreementKey, 'x25519');
  const keys: VerifyingKeys = {
    ed25519: ed25519PublicKey(signingRaw),
    mldsa65: body.pqKey === undefined ? undefined : decodeKey(body.pqKey, 'mldsa65'),
  };
  verifyDocument(keys, parsed);
  return {
    body,
    signature: parsed.signature,
    keys,
    agreementKey: x25519PublicKey(agreementPublicKey),
    agreementPublicKey,
  };
}

export interface CreateInviteOptions {
  swarmId: string;
  nodeId: string;
  /** Capabilities the node may claim; omitted = any. */
  capabilities?: string[];
  /** @default 86_400_000 (one day) */
  ttlMs?: number;
  clock?: Clock;
}

/** An admin-signed invite admitting `nodeId` to `swarmId` until it expires. */
export function createInvite(admin: NodeIdentity, options: CreateInviteOptions): SignedInvite {
  const now = (options.clock ?? systemClock).now();
  const body: InviteBody = {
    kind: 'warden.swarm.invite',
    v: 1,
    swarmId: options.swarmId,
    adminId: admin.nodeId,
    nodeId: options.nodeId,
    ...(options.capabilities ? { capabilities: [...options.capabilities] } : {}),
    issuedAt: now,
    expiresAt: now + (options.ttlMs ?? 86_400_000),
  };
  parseWith(inviteBodySchema, body, 'invite');
  return signDocument(admin.signingKeys(), body, admin.random);
}
