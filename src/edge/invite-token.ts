import { WardenError } from '../core/index.js';
import { canonicalBytes, verifyBytes, type NodeIdentity, type VerifyingKeys } from '../swarm/index.js';

const TOKEN_PREFIX = 'wdn1.';
const INVITE_PURPOSE = 'warden.edge.invite';

/** What an invite grants, signed by the control plane that issued it. */
export interface InviteGrant {
  kind: 'warden.edge.invite';
  id: string;
  swarmId: string;
  controlPlane: string;
  capabilities: string[];
  maxConcurrency: number;
  expiresAt: number;
}

/** The token an admin hands to an edge: the signed grant and the one-time secret that redeems it. */
export interface InviteToken {
  grant: InviteGrant;
  signature: string;
  secret: string;
}

export function encodeInviteToken(identity: NodeIdentity, grant: InviteGrant, secret: string): string {
  const signature = identity.sign(INVITE_PURPOSE, canonicalBytes(grant)).toString('base64url');
  return TOKEN_PREFIX + Buffer.from(JSON.stringify({ grant, signature, secret })).toString('base64url');
}

export function decodeInviteToken(token: string): InviteToken {
  const bad = (why: string) =>
    new WardenError(
      'EDGE_INVITE_INVALID',
      `This is not a Warden edge invite (${why}); copy the whole token that \`warden edge invite\` printed`,
    );
  if (!token.startsWith(TOKEN_PREFIX)) throw bad('it should start with wdn1.');
  let value: Partial<InviteToken>;
  try {
    value = JSON.parse(
      Buffer.from(token.slice(TOKEN_PREFIX.length), 'base64url').toString('utf8'),
    ) as Partial<InviteToken>;
  } catch {
    throw bad('it does not decode');
  }
  const g = value.grant;
  if (
    !g ||
    g.kind !== 'warden.edge.invite' ||
    typeof g.id !== 'string' ||
    typeof g.swarmId !== 'string' ||
    typeof g.controlPlane !== 'string' ||
    !Array.isArray(g.capabilities) ||
    typeof g.maxConcurrency !== 'number' ||
    typeof g.expiresAt !== 'number' ||
    typeof value.signature !== 'string' ||
    typeof value.secret !== 'string'
  )
    throw bad('fields are missing');
  return value as InviteToken;
}

/** Checks that the control plane the edge reached is the one that signed its invite. */
export function verifyInviteGrant(token: InviteToken, controlPlaneKeys: VerifyingKeys): void {
  try {
    verifyBytes(
      controlPlaneKeys,
      INVITE_PURPOSE,
      canonicalBytes(token.grant),
      Buffer.from(token.signature, 'base64url'),
    );
  } catch (cause) {
    throw new WardenError(
      'EDGE_INVITE_INVALID',
      'The invite was not signed by the control plane this edge reached',
      { cause },
    );
  }
}
