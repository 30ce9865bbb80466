import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { errorResponses } from '../schemas.js';

const edgeNode = {
  type: 'object',
  properties: {
    nodeId: { type: 'string' },
    capabilities: { type: 'array', items: { type: 'string' } },
    maxConcurrency: { type: 'integer' },
    joinedAt: { type: 'integer' },
    revoked: { type: 'boolean' },
    connected: {
      type: ['object', 'null'],
      properties: {
        runtimes: { type: 'array', items: { type: 'string' } },
        slots: { type: 'integer' },
        running: { type: 'integer' },
        connectedAt: { type: 'integer' },
        lastSeen: { type: 'integer' },
      },
    },
  },
} as const;

/** Edge nodes (docs/edge.md): installation admins invite, list and revoke them. */
export function edgeRoutes(app: FastifyInstance, { warden, installation }: ApiContext): void {
  app.post<{ Body: { capabilities?: string[]; maxConcurrency?: number; expiresInSeconds?: number } }>(
    '/edge/invites',
    {
      onRequest: installation,
      schema: {
        operationId: 'createEdgeInvite',
        tags: ['edge'],
        summary:
          'Issue a one-time, expiring edge invite signed by this control plane; hand the token to `warden edge join` (installation admin key)',
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            capabilities: { type: 'array', maxItems: 64, items: { type: 'string', maxLength: 64 } },
            maxConcurrency: { type: 'integer', minimum: 1, maximum: 1024 },
            expiresInSeconds: { type: 'integer', minimum: 1, maximum: 30 * 86_400 },
          },
        },
        response: {
          201: {
            type: 'object',
            properties: {
              token: { type: 'string' },
              invite: {
                type: 'object',
                properties: {
                  id: { type: 'string' },
                  controlPlane: { type: 'string' },
                  capabilities: { type: 'array', items: { type: 'string' } },
                  maxConcurrency: { type: 'integer' },
                  expiresAt: { type: 'integer' },
                },
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const b = request.body ?? {};
      const { token, grant } = await warden.edges.invite({
        ...(b.capabilities ? { capabilities: b.capabilities } : {}),
        ...(b.maxConcurrency !== undefined ? { maxConcurrency: b.maxConcurrency } : {}),
        ...(b.expiresInSeconds !== undefined ? { ttlMs: b.expiresInSeconds * 1000 } : {}),
      });
      return reply.code(201).send({ token, invite: grant });
    },
  );

  app.get(
    '/edge/nodes',
    {
      onRequest: installation,
      schema: {
        operationId: 'listEdgeNodes',
        tags: ['edge'],
        summary: 'Edge nodes admitted to this control plane, and which are connected now',
        response: {
          200: { type: 'object', properties: { nodes: { type: 'array', items: edgeNode } } },
          ...errorResponses,
        },
      },
    },
    async () => ({ nodes: await warden.edges.list() }),
  );

  app.delete<{ Params: { nodeId: string } }>(
    '/edge/nodes/:nodeId',
    {
      onRequest: installation,
      schema: {
        operationId: 'revokeEdgeNode',
        tags: ['edge'],
        summary:
          'Revoke an edge node: its connection is closed, its running tasks are retried elsewhere, it cannot rejoin',
        params: {
          type: 'object',
          properties: { nodeId: { type: 'string', maxLength: 128 } },
          required: ['nodeId'],
        },
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      await warden.edges.revoke(request.params.nodeId, 'revoked over the API');
      return reply.code(204).send();
    },
  );
}
