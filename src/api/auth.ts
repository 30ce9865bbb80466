import type { FastifyReply, FastifyRequest } from 'fastify';
import { WardenError, type Session } from '../core/index.js';
import type { ApiKeyRecord, Role } from '../store/index.js';
import type { Warden } from '../warden/index.js';
import { roleAllows, type KeyVerifier } from './keys.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: ApiKeyRecord;
  }
}

/** A preHandler that requires a valid bearer key with at least `role`. */
export function requireRole(verifier: KeyVerifier, role: Role) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match)
      throw new WardenError(
        'UNAUTHORIZED',
        'Send an API key: Authorization: Bearer <key> (create one with `warden keys create`)',
      );
    const record = await verifier.verify(match[1]!);
    if (!record) throw new WardenError('UNAUTHORIZED', 'Unknown or revoked API key');
    if (!roleAllows(record.role, role)) {
      throw new WardenError('FORBIDDEN', `This operation needs the ${role} role; the key has ${record.role}`);
    }
    request.principal = record;
  };
}

/** Another tenant's session is reported exactly like a missing one: ids leak nothing across tenants. */
export async function sessionOf(warden: Warden, request: FastifyRequest, idOrName: string): Promise<Session> {
  const tenant = request.principal!.tenant;
  const session = await warden.store.getSession(idOrName, tenant);
  if (!session || session.tenant !== tenant) {
    throw new WardenError('SESSION_NOT_FOUND', `No session ${idOrName}`, { details: { session: idOrName } });
  }
  return session;
}

export async function sessionById(
  warden: Warden,
  request: FastifyRequest,
  sessionId: string,
  notFound: WardenError,
): Promise<Session> {
  const session = await warden.store.getSession(sessionId);
  if (!session || session.tenant !== request.principal!.tenant || session.id !== sessionId) throw notFound;
  return session;
}
