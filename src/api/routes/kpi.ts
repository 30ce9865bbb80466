import type { FastifyInstance } from 'fastify';
import { tenantOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { errorResponses, idParams } from '../schemas.js';

// KPIs per agent version and user feedback on tasks (docs/kpi.md).

const nullableNumber = { type: ['number', 'null'] } as const;

const agentKpi = {
  type: 'object',
  required: ['agent', 'name', 'version', 'finished', 'successRate', 'latencyMs', 'costUsd', 'reward'],
  properties: {
    agent: { type: 'string', description: 'the version key: name@version (tenant/name@version)' },
    name: { type: 'string' },
    version: { type: 'string' },
    finished: {
      type: 'integer',
      description: 'terminal tasks counted: succeeded, failed, dead, quarantined (not cancelled)',
    },
    succeeded: { type: 'integer' },
    failed: { type: 'integer', description: 'failed (deadline) or dead (attempts used up)' },
    quarantined: { type: 'integer' },
    successRate: { ...nullableNumber, description: 'succeeded / finished; null when none finished' },
    latencyMs: {
      type: 'object',
      description: "run wall time of each finished task's last attempt (usage.wallMs), interpolated",
      properties: { p50: nullableNumber, p95: nullableNumber },
    },
    costUsd: { type: 'number', description: 'sum of the LLM cost of the last attempts' },
    flaggedTasks: { type: 'integer', description: 'finished tasks with at least one governance flag' },
    reward: {
      type: 'object',
      description: 'user scores in [0, 1] (POST /tasks/:id/feedback)',
      properties: { count: { type: 'integer' }, mean: nullableNumber },
    },
  },
} as const;

export function kpiRoutes(app: FastifyInstance, { warden, viewer, operator }: ApiContext): void {
  app.get<{ Params: { agent: string }; Querystring: { since?: string } }>(
    '/agents/:agent/kpi',
    {
      onRequest: viewer,
      schema: {
        operationId: 'getAgentKpi',
        tags: ['agents'],
        summary:
          "KPIs of name@version, or of every version of name, that the key's tenant may use, over its own sessions' finished tasks: success rate, run-time p50/p95, LLM cost, flagged tasks, user reward",
        params: {
          type: 'object',
          required: ['agent'],
          properties: {
            agent: { type: 'string', minLength: 1, maxLength: 300, description: 'name or name@version' },
          },
        },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            since: {
              type: 'string',
              pattern: '^[0-9]{1,15}$',
              description: 'count tasks submitted at or after this time (epoch milliseconds)',
            },
          },
        },
        response: {
          200: { type: 'object', properties: { versions: { type: 'array', items: agentKpi } } },
          ...errorResponses,
        },
      },
    },
    async (request) => ({
      versions: await warden.agentKpis({
        agent: request.params.agent,
        tenant: tenantOf(request),
        ...(request.query.since !== undefined ? { since: Number(request.query.since) } : {}),
      }),
    }),
  );

  app.post<{ Params: { id: string }; Body: { score: number; comment?: string } }>(
    '/tasks/:id/feedback',
    {
      // Whoever may submit a task may score it.
      onRequest: operator,
      schema: {
        operationId: 'putTaskFeedback',
        tags: ['tasks'],
        summary:
          "Score a finished task from 0 (worst) to 1 (best), for its agent version's reward KPI; a later score replaces it. Recorded in the session's provenance chain",
        params: idParams,
        body: {
          type: 'object',
          required: ['score'],
          additionalProperties: false,
          properties: {
            score: { type: 'number', minimum: 0, maximum: 1 },
            comment: { type: 'string', maxLength: 4096 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: { taskId: { type: 'string' }, agent: { type: 'string' }, score: { type: 'number' } },
          },
          ...errorResponses,
          409: { $ref: 'Error#' },
        },
      },
    },
    async (request) => {
      const { score, comment } = request.body;
      const done = await warden.feedback(
        request.params.id,
        { score, ...(comment !== undefined ? { comment } : {}) },
        { tenant: tenantOf(request), via: 'api' },
      );
      // The chain records that feedback came over the API; the server log records which key sent it.
      request.log.info(
        { ...done, tenant: request.principal?.tenant, keyId: request.principal?.id },
        'task feedback',
      );
      return done;
    },
  );
}
