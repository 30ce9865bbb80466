import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { errorResponses } from '../schemas.js';

export function healthRoutes(app: FastifyInstance, { warden, startedAt, viewer }: ApiContext): void {
  app.get(
    '/whoami',
    {
      onRequest: viewer,
      schema: {
        operationId: 'whoami',
        tags: ['health'],
        summary: "The API key's id, name, tenant and role: what a client (the dashboard) may show and do",
        response: {
          200: {
            type: 'object',
            properties: {
              keyId: { type: 'string' },
              name: { type: 'string' },
              tenant: { type: 'string' },
              role: { type: 'string', enum: ['viewer', 'operator', 'admin'] },
              installation: { type: 'boolean' },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const p = request.principal!;
      return { keyId: p.id, name: p.name, tenant: p.tenant, role: p.role, installation: p.installation };
    },
  );

  app.get(
    '/health',
    {
      schema: {
        operationId: 'getHealth',
        tags: ['health'],
        summary: 'Liveness and load: public, no key needed',
        response: {
          200: {
            type: 'object',
            properties: {
              status: { type: 'string' },
              uptimeSeconds: { type: 'number' },
              activeAgents: { type: 'integer' },
              pendingTasks: { type: 'integer' },
              runningTasks: { type: 'integer' },
            },
          },
        },
      },
    },
    async () => {
      const stats = await warden.queueStats({ light: true });
      return {
        status: 'ok',
        uptimeSeconds: (Date.now() - startedAt) / 1000,
        activeAgents: warden.workerStatus().runnableAgents,
        pendingTasks: stats.byState['queued'] ?? 0,
        runningTasks: stats.byState['running'] ?? 0,
      };
    },
  );
}
