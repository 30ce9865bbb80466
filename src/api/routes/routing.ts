import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { tenantOf } from '../auth.js';
import { errorResponses } from '../schemas.js';

const candidate = {
  type: 'object',
  properties: {
    agent: { type: 'string' },
    name: { type: 'string' },
    version: { type: 'string' },
    score: { type: 'number' },
    similarity: { type: 'number' },
    matched: { type: 'string' },
    fitness: { type: 'number' },
  },
} as const;

const rollout = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    canaryKey: { type: 'string' },
    stableKey: { type: 'string' },
    state: { type: 'string', enum: ['canary', 'promoted', 'rolled-back'] },
    share: { type: 'number' },
    startedAt: { type: 'integer' },
    decidedAt: { type: ['integer', 'null'] },
    reason: { type: ['string', 'null'] },
  },
} as const;

/** Semantic task matching and canary rollouts (docs/routing.md), within the key's tenant. */
export function routingRoutes(app: FastifyInstance, { warden, viewer }: ApiContext): void {
  app.post<{ Body: { intent: string } }>(
    '/route/explain',
    {
      onRequest: viewer,
      schema: {
        operationId: 'explainRoute',
        tags: ['routing'],
        summary:
          'Score every agent the key may use against an intent, best first, and name the one a submit with this intent would run',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['intent'],
          properties: { intent: { type: 'string', minLength: 1, maxLength: 2000 } },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              intent: { type: 'string' },
              threshold: { type: 'number' },
              chosen: { anyOf: [candidate, { type: 'null' }] },
              candidates: { type: 'array', items: candidate },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => warden.explainRoute({ intent: request.body.intent, tenant: tenantOf(request) }),
  );

  app.get<{ Querystring: { name?: string } }>(
    '/rollouts',
    {
      onRequest: viewer,
      schema: {
        operationId: 'listRollouts',
        tags: ['routing'],
        summary:
          "Canary rollouts of the key's tenant and their outcome (promoted, rolled back), newest first",
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { name: { type: 'string', minLength: 1, maxLength: 200 } },
        },
        response: { 200: { type: 'array', items: rollout }, ...errorResponses },
      },
    },
    async (request) =>
      warden.listRollouts({
        tenant: tenantOf(request),
        ...(request.query.name ? { name: request.query.name } : {}),
      }),
  );
}
