import { WardenError, type Session, type Task } from '../core/index.js';
import type { Warden } from '../warden/index.js';

/** Who a connection's tools act for: one tenant, one role (an API key's, or the local CLI's admin). */
export interface McpPrincipal {
  tenant: string;
  role: 'viewer' | 'operator' | 'admin';
  /** The key's name, for the record (who released, who cancelled). */
  name?: string;
}

// The same tenant checks as the HTTP API (src/api/auth.ts), on a principal instead of a request: another
// tenant's task or session is reported exactly like a missing one, so ids leak nothing across tenants.

/** Throws FORBIDDEN unless the principal may change things (submit, cancel): operator or admin. */
export function requireOperator(principal: McpPrincipal, tool: string): void {
  if (principal.role === 'viewer')
    throw new WardenError(
      'FORBIDDEN',
      `The ${tool} tool needs the operator role; the key has ${principal.role}`,
    );
}

/** A session of the principal's tenant by id or name, or SESSION_NOT_FOUND. */
export async function sessionFor(
  warden: Warden,
  principal: McpPrincipal,
  idOrName: string,
): Promise<Session> {
  const session = await warden.findSession(idOrName, principal.tenant);
  if (!session || session.tenant !== principal.tenant)
    throw new WardenError('SESSION_NOT_FOUND', `No session ${idOrName}`, { details: { session: idOrName } });
  return session;
}

/** A task of the principal's tenant, or TASK_NOT_FOUND (also for another tenant's task). */
export async function taskFor(warden: Warden, principal: McpPrincipal, id: string): Promise<Task> {
  const notFound = new WardenError('TASK_NOT_FOUND', `No task with id ${id}`, { details: { taskId: id } });
  const task = await warden.findTask(id);
  if (!task) throw notFound;
  const session = await warden.findSession(task.sessionId, principal.tenant);
  if (!session || session.tenant !== principal.tenant || session.id !== task.sessionId) throw notFound;
  return task;
}
