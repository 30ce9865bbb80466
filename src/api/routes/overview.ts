import type { FastifyInstance } from 'fastify';
import { tenantOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { errorResponses } from '../schemas.js';

// GET /stats/overview: the dashboard's Overview page. Every figure is of the key's tenant only (its
// sessions, the versions it may use), unlike the operator's GET /scheduler/stats, so any viewer may read it.

const count = { type: 'integer' } as const;
const nullableNumber = { type: ['number', 'null'] } as const;
const counts = (names: readonly string[]) =>
  ({ type: 'object', properties: Object.fromEntries(names.map((n) => [n, count])) }) as const;
const byKey = { type: 'object', additionalProperties: count } as const;

const bucket = {
  type: 'object',
  required: ['start', 'submitted', 'succeeded', 'failed', 'dead', 'cancelled', 'quarantined', 'latencyMs'],
  properties: {
    start: {
      type: 'integer',
      description: 'bucket start, epoch ms; the bucket is [start, start + bucketMs)',
    },
    submitted: { ...count, description: 'tasks submitted in the bucket' },
    succeeded: { ...count, description: 'tasks that finished in the bucket and are succeeded now' },
    failed: count,
    dead: count,
    cancelled: count,
    quarantined: count,
    latencyMs: {
      type: 'object',
      description:
        'end to end (result finished_at − task created_at) of the tasks that finished in the bucket, cancelled ones left out; null without a sample',
      properties: { p50: nullableNumber, p95: nullableNumber },
    },
  },
} as const;

const { start: _start, ...totalsProperties } = bucket.properties;

const overview = {
  type: 'object',
  properties: {
    tenant: { type: 'string' },
    from: { type: 'integer', description: 'start of the first bucket (epoch ms)' },
    to: { type: 'integer', description: 'when the figures were read; the last bucket is still filling' },
    bucketMs: count,
    buckets: { type: 'array', items: bucket },
    totals: {
      type: 'object',
      description: "the buckets' sums, and the latency percentiles over the whole window",
      properties: totalsProperties,
    },
    queue: {
      type: 'object',
      properties: {
        queued: count,
        running: count,
        byPriority: { ...counts(['critical', 'high', 'normal', 'low', 'background']), description: 'queued' },
      },
    },
    breakers: {
      type: 'array',
      description: 'circuit breakers not closed, of the agent versions the tenant may use',
      items: {
        type: 'object',
        properties: {
          agent: { type: 'string' },
          state: { type: 'string', enum: ['open', 'half_open'] },
          consecutiveFailures: count,
          openedAt: { type: ['integer', 'null'] },
          nextProbeAt: { type: ['integer', 'null'] },
        },
      },
    },
    governance: {
      type: 'object',
      properties: {
        flagsLastHour: count,
        bySeverity: { ...byKey, description: 'flags of the last hour by severity (1–10)' },
        byType: { ...byKey, description: 'flags of the last hour by type' },
      },
    },
  },
} as const;

export function overviewRoutes(app: FastifyInstance, { warden, viewer }: ApiContext): void {
  app.get<{ Querystring: { windowMinutes?: string; bucketSeconds?: string } }>(
    '/stats/overview',
    {
      onRequest: viewer,
      schema: {
        operationId: 'getOverview',
        tags: ['operations'],
        summary:
          "The key's tenant at a glance: tasks submitted and finished per time bucket by end state, end-to-end latency p50/p95, its queue by priority, breakers not closed, governance flags of the last hour",
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            windowMinutes: {
              type: 'string',
              pattern: '^[0-9]{1,5}$',
              description: 'how far back, 5 to 1440 minutes (default 60)',
            },
            bucketSeconds: {
              type: 'string',
              pattern: '^[0-9]{1,5}$',
              description: 'bucket width, 10 to 3600 seconds, at most 300 buckets (default 60)',
            },
          },
        },
        response: { 200: overview, ...errorResponses },
      },
    },
    async (request) => {
      const { windowMinutes, bucketSeconds } = request.query;
      return warden.overview({
        tenant: tenantOf(request),
        ...(windowMinutes !== undefined ? { windowMs: Number(windowMinutes) * 60_000 } : {}),
        ...(bucketSeconds !== undefined ? { bucketMs: Number(bucketSeconds) * 1000 } : {}),
      });
    },
  );
}
