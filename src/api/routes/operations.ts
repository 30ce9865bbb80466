import type { FastifyInstance } from 'fastify';
import { WardenError, priorityName } from '../../core/index.js';
import { sessionOf, tenantOf } from '../auth.js';
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
  { warden, metrics, viewer, operator, installation }: ApiContext,
): void {
  app.get(
    '/scheduler/stats',
    {
      onRequest: operator,
      schema: {
        operationId: 'getSchedulerStats',
        tags: ['operations'],
        summary:
          "Queue depth, running tasks and dead letters (whole server), and the circuit breakers of the agents the key's tenant may use",
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
    async (request) => {
      // The store's breakers, not this process's copy: a worker elsewhere may have opened one.
      const [stats, stored] = await Promise.all([
        warden.queueStats({ light: true }),
        warden.storedBreakers(),
      ]);
      const here = warden.workerStatus();
      const visible = new Set((await warden.listAgents({ tenant: tenantOf(request) })).map((a) => a.key));
      return {
        queued: stats.byState['queued'] ?? 0,
        running: stats.byState['running'] ?? 0,
        queuedByPriority: Object.fromEntries(
          Object.entries(stats.queuedByPriority).map(([p, n]) => [priorityName(Number(p)), n]),
        ),
        deadLetters: stats.deadLetters,
        inFlightHere: here.inFlight,
        concurrency: here.concurrency,
        breakers: [...stored]
          .filter(([agent]) => visible.has(agent))
          .map(([agent, b]) => ({
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
        operationId: 'listDeadLetters',
        tags: ['dead-letters'],
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
      const session = request.query.session
        ? await sessionOf(warden, request, request.query.session)
        : undefined;
      return warden.dlq.list({
        tenant: tenantOf(request),
        limit: Math.max(1, Number(request.query.limit ?? 100)),
        ...(session ? { session: session.id } : {}),
      });
    },
  );

  app.post<{ Params: { id: string } }>(
    '/dlq/:id/replay',
    {
      onRequest: operator,
      schema: {
        operationId: 'replayDeadLetter',
        tags: ['dead-letters'],
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

  app.post<{ Body: { ids?: string[]; all?: boolean } }>(
    '/dlq/purge',
    {
      onRequest: operator,
      schema: {
        operationId: 'purgeDeadLetters',
        tags: ['dead-letters'],
        summary:
          "Remove dead letters of the key's tenant for good (named ids, or all: true); their tasks stay dead, with results and provenance",
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ids: {
              type: 'array',
              minItems: 1,
              maxItems: 1000,
              items: { type: 'string', minLength: 1, maxLength: 200 },
            },
            all: { type: 'boolean', const: true },
          },
        },
        response: {
          200: { type: 'object', properties: { purged: { type: 'integer' } } },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { ids, all } = request.body ?? {};
      if ((ids === undefined) === (all === undefined))
        throw new WardenError('INVALID_INPUT', 'Name the dead letters to purge (ids), or pass all: true', {
          details: { issues: [{ path: 'body.ids', message: 'name exactly one of ids or all' }] },
        });
      // Only the caller's tenant's dead letters are touched; another tenant's ids count as missing.
      return { purged: await warden.dlq.purge(all ? 'all' : ids!, { tenant: tenantOf(request) }) };
    },
  );

  app.get(
    '/metrics',
    {
      onRequest: installation,
      schema: {
        operationId: 'getMetrics',
        tags: ['operations'],
        summary:
          'Prometheus metrics of the whole installation (text exposition format); needs an installation admin key',
        hide: false,
      },
    },
    async (_request, reply) => {
      const { contentType, body } = await metrics.render();
      return reply.header('content-type', contentType).send(body);
    },
  );
}
