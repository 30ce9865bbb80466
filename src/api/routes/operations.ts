import type { FastifyInstance } from 'fastify';
import { WardenError, priorityName } from '../../core/index.js';
import type { ApiContext } from '../context.js';
import { errorResponses, idParams } from '../schemas.js';
import { taskOf } from './tasks.js';

const deadLetter = {
  type: 'object',
  properties: {
    taskId: { type: 'string' },
    sessionId: { type: 'string' },
    agentKey: { type: 'string' },
    attempts: { type: 'integer' },
    deadAt: { type: 'integer' },
    error: { type: 'object', additionalProperties: true },
  },
} as const;

export function operationRoutes(
  app: FastifyInstance,
  { warden, metrics, viewer, operator, admin }: ApiContext,
): void {
  app.get(
    '/scheduler/stats',
    {
      onRequest: operator,
      schema: {
        summary: 'Queue depth, running tasks, dead letters and circuit breakers (whole server)',
        response: {
          200: {
            type: 'object',
            properties: {
              queued: { type: 'integer' },
              running: { type: 'integer' },
              queuedByPriority: { type: 'object', additionalProperties: { type: 'integer' } },
              deadLetters: { type: 'integer' },
              inFlightHere: { type: 'integer' },
              concurrency: { type: 'integer' },
              breakers: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    agent: { type: 'string' },
                    state: { type: 'string' },
                    consecutiveFailures: { type: 'integer' },
                  },
                },
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async () => {
      const stats = await warden.store.stats({ light: true });
      return {
        queued: stats.byState['queued'] ?? 0,
        running: stats.byState['running'] ?? 0,
        queuedByPriority: Object.fromEntries(
          Object.entries(stats.queuedByPriority).map(([p, n]) => [priorityName(Number(p)), n]),
        ),
        deadLetters: stats.deadLetters,
        inFlightHere: warden.scheduler.inFlightCount,
        concurrency: warden.scheduler.options.concurrency,
        breakers: [...warden.scheduler.breakerSnapshot()].map(([agent, b]) => ({
          agent,
          state: b.state,
          consecutiveFailures: b.consecutiveFailures,
        })),
      };
    },
  );

  app.get<{ Querystring: { session?: string; limit?: string } }>(
    '/dlq',
    {
      onRequest: viewer,
      schema: {
        summary: "Dead letters of the key's tenant, newest first",
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            session: { type: 'string', maxLength: 200 },
            limit: { type: 'string', pattern: '^[0-9]{1,4}$' },
          },
        },
        response: { 200: { type: 'array', items: deadLetter }, ...errorResponses },
      },
    },
    async (request) => {
      const tenant = request.principal!.tenant;
      const sessions = new Set((await warden.store.listSessions(tenant)).map((s) => s.id));
      const sessionFilter = request.query.session
        ? (await warden.store.getSession(request.query.session, tenant))?.id
        : undefined;
      if (request.query.session && (!sessionFilter || !sessions.has(sessionFilter))) {
        throw new WardenError('SESSION_NOT_FOUND', `No session ${request.query.session}`);
      }
      const list = await warden.store.listDeadLetters({
        limit: 1000,
        ...(sessionFilter ? { sessionId: sessionFilter } : {}),
      });
      return list
        .filter((d) => sessions.has(d.sessionId))
        .slice(0, Math.max(1, Number(request.query.limit ?? 100)));
    },
  );

  app.post<{ Params: { id: string } }>(
    '/dlq/:id/replay',
    {
      onRequest: operator,
      schema: {
        summary: 'Put a dead task back in the queue with fresh attempts',
        params: idParams,
        response: { 200: { $ref: 'Task#' }, ...errorResponses },
      },
    },
    async (request) => {
      const task = await taskOf(warden, request, request.params.id);
      return warden.dlq.replay(task.id);
    },
  );

  app.get(
    '/metrics',
    { onRequest: admin, schema: { summary: 'Prometheus metrics (text exposition format)', hide: false } },
    async (_request, reply) => {
      const { contentType, body } = await metrics.render();
      return reply.header('content-type', contentType).send(body);
    },
  );
}
