import type { FastifyReply, FastifyRequest } from 'fastify';
import { WardenError, type Session, type Task } from '../core/index.js';
import type { TraceRecord } from '../provenance/index.js';
import type { Warden } from '../warden/index.js';
import type { ApiKeyRecord, Role } from './key-port.js';
import { roleAllows, type KeyVerifier } from './keys.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: ApiKeyRecord;
  }
}

/**
 * A preHandler that requires a valid bearer key with at least `role`; with `installation`, an
 * installation-wide admin key (`warden keys create --installation`).
 */
export function requireRole(verifier: KeyVerifier, role: Role, options: { installation?: boolean } = {}) {
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
    if (options.installation && !record.installation) {
      throw new WardenError(
        'FORBIDDEN',
        'This operation is installation-wide: it needs an installation admin key (warden keys create --installation)',
      );
    }
    request.principal = record;
  };
}

// Tenant checks. Every id a request names goes through one of these before anything is read or written;
// another tenant's resource is reported exactly like a missing one, so ids leak nothing across tenants.

/** The tenant of the request's key. */
export function tenantOf(request: FastifyRequest): string {
  return request.principal!.tenant;
}

/** A session of the caller's tenant by id or name, or SESSION_NOT_FOUND. */
export async function sessionOf(warden: Warden, request: FastifyRequest, idOrName: string): Promise<Session> {
  const tenant = tenantOf(request);
  const session = await warden.findSession(idOrName, tenant);
  if (!session || session.tenant !== tenant) {
    throw new WardenError('SESSION_NOT_FOUND', `No session ${idOrName}`, { details: { session: idOrName } });
  }
  return session;
}

/** The session `sessionId` if it is the caller's tenant's, else throws `notFound`. */
export async function sessionById(
  warden: Warden,
  request: FastifyRequest,
  sessionId: string,
  notFound: WardenError,
): Promise<Session> {
  const session = await warden.findSession(sessionId, tenantOf(request));
  if (!session || session.tenant !== tenantOf(request) || session.id !== sessionId) throw notFound;
  return session;
}

/** A task of the caller's tenant, or TASK_NOT_FOUND (also for another tenant's task). */
export async function taskOf(warden: Warden, request: FastifyRequest, id: string): Promise<Task> {
  const notFound = new WardenError('TASK_NOT_FOUND', `No task with id ${id}`, { details: { taskId: id } });
  const task = await warden.findTask(id);
  if (!task) throw notFound;
  await sessionById(warden, request, task.sessionId, notFound);
  return task;
}

/** A trace of the caller's tenant, or TRACE_NOT_FOUND (also for another tenant's trace). */
export async function traceOf(warden: Warden, request: FastifyRequest, id: string): Promise<TraceRecord> {
  const notFound = new WardenError('TRACE_NOT_FOUND', `No trace with id ${id}`);
  const trace = await warden.traces.getTrace(id);
  if (!trace) throw notFound;
  await sessionById(warden, request, trace.sessionId, notFound);
  return trace;
}
