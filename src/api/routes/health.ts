import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';

export function healthRoutes(app: FastifyInstance, { warden, startedAt }: ApiContext): void {
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
