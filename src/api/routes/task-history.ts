import type { FastifyInstance } from 'fastify';
import { taskOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { errorResponses, idParams } from '../schemas.js';

/** At most this many of a session's records are read to find one task's: the route's cost is bounded. */
const MAX_SCAN = 20_000;

export function taskHistoryRoutes(app: FastifyInstance, { warden, viewer }: ApiContext): void {
  app.get<{ Params: { id: string } }>(
    '/tasks/:id/history',
    {
      onRequest: viewer,
      schema: {
        operationId: 'getTaskHistory',
        tags: ['tasks'],
        summary: `A task's provenance records (submitted, each attempt's start and outcome, replays, lease expiries…) in chain order: its session's chain read backwards from the head to the task's task.submitted record, at most ${MAX_SCAN} records (complete is false when that cap stopped the read)`,
        params: idParams,
        response: {
          200: {
            type: 'object',
            properties: {
              records: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    seq: { type: 'integer' },
                    type: { type: 'string' },
                    at: { type: 'integer' },
                    attempt: { type: ['integer', 'null'] },
                    data: { type: 'object', additionalProperties: true },
                  },
                },
              },
              complete: { type: 'boolean' },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const task = await taskOf(warden, request, request.params.id);
      const { records, complete } = await warden.taskHistory(task.id, { maxScan: MAX_SCAN });
      return { records, complete };
    },
  );
}
