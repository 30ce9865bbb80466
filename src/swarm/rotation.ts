import type { z } from 'zod';
import { WardenError } from '../core/index.js';
import { fromBase64Url, toBase64Url } from './bytes.js';
import { canonicalBytes } from './canonical.js';
import { decodeKey } from './encoding.js';
import type { NodeIdentity, NodePublicKeys } from './identity.js';
import { ed25519PublicKey } from './keys.js';
import {
  createRegistration,
  verifySelfSigned,
  type CreateRegistrationOptions,
  type VerifiedRegistration,
} from './registration.js';
import { parseWith, signedRotationSchema, type rotationBodySchema } from './schemas.js';
import { signBytes, verifyBytes, type VerifyingKeys } from './signature.js';

export type RotationBody = z.infer<typeof rotationBodySchema>;

/**
 * A key rotation: the node's new registration (new keys, same node id) plus the keys it retires,
 * signed by every old signing key (`signatures.previous`) and every new one (`signatures.next`).
 * X25519 keys cannot sign; they are bound by being inside the signed body.
 */
export interface SignedRotation {
  body: RotationBody;
  signatures: { previous: string; next: string };
}

/** Signing purpose of rotations; each signature appends `/previous` or `/next`, so neither stands in for the other. */
export const ROTATION_PURPOSE = 'warden.swarm.rotation';

export type CreateRotationOptions = CreateRegistrationOptions;

/** What a valid rotation proves; whether it applies is the registry's decision. */
export interface VerifiedRotation {
  /** The rotation as parsed (only the schema's fields), fit to store. */
  rotation: SignedRotation;
  nodeId: string;
  previous: NodePublicKeys;
  previousKeys: VerifyingKeys;
  next: VerifiedRegistration;
}

/**
 * Signs the rotation of `current`'s keys to `next`'s keys. Make `next` with `current.rotate()`;
 * apply the result with `TrustRegistry.rotate`.
 *
 * @example
 * const next = me.rotate();
 * await registry.rotate(createRotation(me, next, { swarmId, capabilities: ['exec'] }));
 * await saveIdentity(path, next); // from now on the node is `next`
 */
export function createRotation(
  current: NodeIdentity,
  next: NodeIdentity,
  options: CreateRotationOptions,
): SignedRotation {
  if (next.nodeId !== current.nodeId) {
    throw new WardenError(
      'SWARM_BAD_ENCODING',
      `The next identity has node id ${next.nodeId}, not ${current.nodeId}: make it with current.rotate()`,
    );
  }
  const body: RotationBody = {
    kind: ROTATION_PURPOSE,
    v: 1,
    nodeId: current.nodeId,
    previous: { ...current.publicKeys },
    registration: createRegistration(next, options),
  };
  const bytes = canonicalBytes(body);
  return {
    body,
    signatures: {
      previous: toBase64Url(
        signBytes(current.signingKeys(), `${ROTATION_PURPOSE}/previous`, bytes, current.random),
      ),
      next: toBase64Url(signBytes(next.signingKeys(), `${ROTATION_PURPOSE}/next`, bytes, next.random)),
    },
  };
}

/**
 * Checks a rotation on its own: shape, the new registration's self-signature, both rotation
 * signatures (each hybrid when its key set has an ML-DSA key) and that a hybrid node stays hybrid.
 * Not checked here: that `previous` are the node's current keys and the dates (the registry does).
 * @throws WardenError SWARM_BAD_ENCODING, SWARM_BAD_SIGNATURE, SWARM_DOWNGRADE
 */
export function verifyRotation(doc: unknown): VerifiedRotation {
  const parsed = parseWith(signedRotationSchema, doc, 'rotation');
  const { body, signatures } = parsed;
  if (body.registration.body.nodeId !== body.nodeId) {
    throw new WardenError('SWARM_BAD_ENCODING', 'Rotation and its new registration name different nodes', {
      details: { nodeId: body.nodeId },
    });
  }
  const previousKeys: VerifyingKeys = {
    ed25519: ed25519PublicKey(decodeKey(body.previous.signingKey, 'ed25519')),
    mldsa65: body.previous.pqKey === undefined ? undefined : decodeKey(body.previous.pqKey, 'mldsa65'),
  };
  decodeKey(body.previous.agreementKey, 'x25519');
  if (previousKeys.mldsa65 && body.registration.body.pqKey === undefined) {
    throw new WardenError(
      'SWARM_DOWNGRADE',
      `Node ${body.nodeId} is hybrid; its new keys must include ML-DSA-65`,
      {
        details: { nodeId: body.nodeId },
      },
    );
  }
  const next = verifySelfSigned(body.registration);
  const bytes = canonicalBytes(body);
  verifyBytes(
    previousKeys,
    `${ROTATION_PURPOSE}/previous`,
    bytes,
    fromBase64Url(signatures.previous, 'signature'),
  );
  verifyBytes(next.keys, `${ROTATION_PURPOSE}/next`, bytes, fromBase64Url(signatures.next, 'signature'));
  return { rotation: parsed, nodeId: body.nodeId, previous: body.previous, previousKeys, next };
}

/** True when two key sets are the same keys (compared in their canonical encodings). */
export function sameKeys(a: NodePublicKeys, b: NodePublicKeys): boolean {
  return a.signingKey === b.signingKey && a.agreementKey === b.agreementKey && a.pqKey === b.pqKey;
}
