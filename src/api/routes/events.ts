import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PRIORITIES, TASK_STATES, type PriorityName, type Task, type TaskState } from '../../core/index.js';
import type { TaskChange } from '../../store/index.js';
import type { Warden } from '../../warden/index.js';
import { sessionOf, tenantOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { errorResponses } from '../schemas.js';
import { openEventStream } from '../open-streams.js';

/** Changes of one task within this window go out as one event, with the state it has at the end. */
const FLUSH_MS = 100;
/** More of the tenant's tasks than this changed in one flush: `resync` instead of that many reads. */
const MAX_TASKS_PER_FLUSH = 500;
/** Changes held for one flush, of any tenant, before the stream gives up on them and sends `resync`. */
const MAX_PENDING = 10 * MAX_TASKS_PER_FLUSH;
const KEEPALIVE_MS = 15_000;
/** Tasks whose last sent version a stream remembers, so that the same version is not sent twice. */
const MAX_REMEMBERED = 2_000;
/** Sessions whose tenant is remembered, per Warden (a session never changes tenant). */
const MAX_SESSIONS = 10_000;

export interface EventFilter {
  tenant: string;
  /** A session id of the tenant (already checked). */
  sessionId?: string;
  /** `name@version` (exact) or a name (every version), as GET /tasks takes it. */
  agent?: string;
  state?: TaskState;
  priority?: PriorityName;
}

interface EventsQuery {
  session?: string;
  agent?: string;
  state?: TaskState;
  priority?: PriorityName;
}

export function eventRoutes(app: FastifyInstance, { warden, viewer }: ApiContext): void {
  app.get<{ Querystring: EventsQuery }>(
    '/events',
    {
      onRequest: viewer,
      schema: {
        operationId: 'streamEvents',
        tags: ['tasks'],
        summary:
          "Server-Sent Events of every change to the key's tenant's tasks: `ready`, then `task` (the task as GET /tasks lists it) per change, `resync` when the client should list again",
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            session: { type: 'string', minLength: 1, maxLength: 200, description: 'session id or name' },
            agent: {
              type: 'string',
              minLength: 1,
              maxLength: 300,
              description: 'agent name (every version) or name@version, as in task.agent',
            },
            state: { type: 'string', enum: [...TASK_STATES] },
            priority: { type: 'string', enum: Object.keys(PRIORITIES) },
          },
        },
        response: {
          200: {
            description:
              'text/event-stream: `ready` {tenant, at}, `task` (a TaskSummary), `resync` {reason}; a comment every 15 s',
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const filter: EventFilter = {
        tenant: tenantOf(request),
        // A named session must be the tenant's (else 404, before the stream starts).
        ...(q.session ? { sessionId: (await sessionOf(warden, request, q.session)).id } : {}),
        ...(q.agent ? { agent: q.agent } : {}),
        ...(q.state ? { state: q.state } : {}),
        ...(q.priority ? { priority: q.priority } : {}),
      };
      streamEvents(warden, filter, request, reply);
    },
  );
}

/** Whether `agentKey` (`[tenant/]name@version`) is the agent a filter names, as GET /tasks matches it. */
export function agentMatches(agentKey: string, wanted: string): boolean {
  if (wanted.includes('@')) return agentKey === wanted;
  const at = agentKey.lastIndexOf('@');
  const base = at < 0 ? agentKey : agentKey.slice(0, at);
  return base === wanted || base.endsWith(`/${wanted}`);
}

function matches(task: Task, f: EventFilter): boolean {
  return (
    (f.sessionId === undefined || task.sessionId === f.sessionId) &&
    (f.state === undefined || task.state === f.state) &&
    (f.priority === undefined || task.priority === f.priority) &&
    (f.agent === undefined || agentMatches(task.agent, f.agent))
  );
}

const tenantCaches = new WeakMap<Warden, Map<string, Promise<string | undefined>>>();

/** The tenant of a session id (undefined when there is no such session), cached per Warden. */
function sessionTenant(warden: Warden, sessionId: string): Promise<string | undefined> {
  let cache = tenantCaches.get(warden);
  if (!cache) tenantCaches.set(warden, (cache = new Map()));
  const known = cache.get(sessionId);
  if (known) return known;
  // findSession also matches names: only a session whose id it is counts.
  const lookup = warden.findSession(sessionId).then((s) => (s?.id === sessionId ? s.tenant : undefined));
  if (cache.size >= MAX_SESSIONS) cache.delete(cache.keys().next().value!);
  cache.set(sessionId, lookup);
  // A miss or a failed read is not remembered: the next change asks again.
  lookup.then(
    (tenant) => tenant === undefined && cache.delete(sessionId),
    () => cache.delete(sessionId),
  );
  return lookup;
}

/** The task as GET /tasks lists it: without its input. */
function summary(task: Task): Omit<Task, 'input'> {
  const { input: _input, ...rest } = task;
  return rest;
}

/**
 * Streams the changes of a tenant's tasks as Server-Sent Events: `ready`, then one `task` event per changed
 * task and flush (read from the store after the change, so with its stored state), filtered; `resync`
 * when changes may have been missed or too many came at once. The change feed says which tasks changed
 * (every process's on PostgreSQL, this process's on SQLite); the store says what they are now.
 */
export function streamEvents(
  warden: Warden,
  filter: EventFilter,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const res = openEventStream(request, reply);
  let closed = false;
  const write = (event: string, data: unknown) => {
    if (!closed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  write('ready', { tenant: filter.tenant, at: Date.now() });

  // taskId → sessionId of the changes since the last flush (a Map: one entry per task however often it moved).
  let pending = new Map<string, string>();
  let overflow = false;
  let timer: NodeJS.Timeout | undefined;
  let flushing = false;
  // The version of each task last sent: a change read after the next one already happened reads the same.
  const sent = new Map<string, string>();

  const resync = (reason: string) => {
    pending.clear();
    overflow = false;
    write('resync', { reason });
  };

  const flush = async () => {
    timer = undefined;
    if (closed) return;
    flushing = true;
    const batch = pending;
    const tooMany = overflow;
    pending = new Map();
    overflow = false;
    try {
      if (tooMany) return resync(`more than ${MAX_PENDING} task changes at once`);
      // The tenant's changes only: what is not the tenant's is never read, let alone sent.
      const tenants = new Map<string, string | undefined>();
      for (const sessionId of new Set(batch.values()))
        tenants.set(sessionId, await sessionTenant(warden, sessionId));
      const ids = [...batch].filter(([, s]) => tenants.get(s) === filter.tenant).map(([id]) => id);
      if (ids.length > MAX_TASKS_PER_FLUSH)
        return resync(`more than ${MAX_TASKS_PER_FLUSH} tasks changed at once`);
      const tasks = await Promise.all(ids.map((id) => warden.findTask(id)));
      for (const task of tasks) {
        if (!task || closed) continue;
        // The stored task's own session decides, not what the change said about it.
        if (task.sessionId !== batch.get(task.id)) {
          if ((await sessionTenant(warden, task.sessionId)) !== filter.tenant) continue;
        }
        if (!matches(task, filter)) continue;
        const version = `${task.state}:${task.attempts}:${task.updatedAt}`;
        if (sent.get(task.id) === version) continue;
        sent.delete(task.id);
        sent.set(task.id, version);
        if (sent.size > MAX_REMEMBERED) sent.delete(sent.keys().next().value!);
        write('task', summary(task));
      }
    } catch (err) {
      // The client lists again; the process goes on.
      request.log.warn({ err }, 'GET /events could not read changed tasks');
      resync('the server could not read the changed tasks');
    } finally {
      flushing = false;
      if (!closed && (pending.size > 0 || overflow)) schedule();
    }
  };
  const schedule = () => {
    if (timer || flushing || closed) return;
    timer = setTimeout(() => void flush(), FLUSH_MS);
  };

  const onTask = (c: TaskChange) => {
    if (filter.sessionId !== undefined && c.sessionId !== filter.sessionId) return;
    if (!pending.has(c.taskId)) {
      if (pending.size >= MAX_PENDING) overflow = true;
      else pending.set(c.taskId, c.sessionId);
    }
    schedule();
  };
  const feed = warden.changes;
  const unfollow = [feed.onTask(onTask), feed.onResync(() => resync('the change feed reconnected'))];
  const keepAlive = setInterval(() => !closed && res.write(': keep-alive\n\n'), KEEPALIVE_MS);

  const close = () => {
    if (closed) return;
    closed = true;
    clearTimeout(timer);
    clearInterval(keepAlive);
    for (const off of unfollow) off();
    pending.clear();
    sent.clear();
    res.end();
  };
  request.raw.on('close', close);
  res.on('close', close);
  res.on('error', close);
}
