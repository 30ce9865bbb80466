import type { FastifyInstance } from 'fastify';
import { taskOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { errorResponses, idParams } from '../schemas.js';
import { streamTaskEvents } from './task-events.js';

export { taskOf } from '../auth.js';

export function taskRoutes(app: FastifyInstance, { warden, viewer, operator }: ApiContext): void {
  app.get<{ Params: { id: string } }>(
    '/tasks/:id',
    {
      onRequest: viewer,
      schema: {
        summary: 'A task and, once it is finished, its result',
        params: idParams,
        response: {
          200: {
            type: 'object',
            properties: {
              task: { $ref: 'Task#' },
              result: { anyOf: [{ type: 'null' }, { $ref: 'TaskResult#' }] },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const task = await taskOf(warden, request, request.params.id);
      return { task, result: (await warden.store.getResult(task.id)) ?? null };
    },
  );

  app.post<{ Params: { id: string } }>(
    '/tasks/:id/cancel',
    {
      onRequest: operator,
      schema: {
        summary: 'Cancel a queued task now, or stop a running one',
        params: idParams,
        response: {
          200: {
            type: 'object',
            properties: { state: { type: 'string' }, cancelledNow: { type: 'boolean' } },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const task = await taskOf(warden, request, request.params.id);
      return warden.cancel(task.id);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/tasks/:id/events',
    {
      onRequest: viewer,
      schema: {
        summary:
          'Server-Sent Events: state changes, log lines and the result; closes when the task is finished',
        params: idParams,
        response: errorResponses,
      },
    },
    async (request, reply) => {
      const task = await taskOf(warden, request, request.params.id);
      await streamTaskEvents(warden, task, request, reply);
    },
  );
}
