import type { FastifyInstance } from 'fastify';
import { TASK_STATES, type TaskState } from '../../core/index.js';
import type { Warden } from '../../warden/index.js';
import { sessionOf, taskOf, tenantOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { decodeCursor, encodeCursor, pageLimit } from '../cursor.js';
import { errorResponses, idParams, nextCursor, pageQuery } from '../schemas.js';
import { streamTaskEvents } from './task-events.js';

export { taskOf } from '../auth.js';

interface TaskListQuery {
  session?: string;
  state?: TaskState;
  agent?: string;
  limit?: string;
  cursor?: string;
}

export function taskRoutes(app: FastifyInstance, { warden, viewer, operator }: ApiContext): void {
  app.get<{ Querystring: TaskListQuery }>(
    '/tasks',
    {
      onRequest: viewer,
      schema: {
        operationId: 'listTasks',
        tags: ['tasks'],
        summary:
          "The key's tenant's tasks, newest first, without their input (GET /tasks/:id has it): filter by session, state and agent; page with limit and cursor",
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            session: { type: 'string', minLength: 1, maxLength: 200, description: 'session id or name' },
            state: { type: 'string', enum: [...TASK_STATES] },
            agent: {
              type: 'string',
              minLength: 1,
              maxLength: 300,
              description: 'agent name (every version) or name@version, as in task.agent',
            },
            ...pageQuery,
          },
        },
        response: {
          200: {
            type: 'object',
            properties: { tasks: { type: 'array', items: { $ref: 'TaskSummary#' } }, nextCursor },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const q = request.query;
      const limit = pageLimit(q.limit);
      const filter: Parameters<Warden['listTasks']>[0] = {
        // Scoped to the tenant either way: a named session must be the tenant's (else 404).
        ...(q.session
          ? { session: (await sessionOf(warden, request, q.session)).id }
          : { tenant: tenantOf(request) }),
        ...(q.state ? { state: q.state } : {}),
        ...(q.agent ? (q.agent.includes('@') ? { agentKey: q.agent } : { agentName: q.agent }) : {}),
        ...(q.cursor ? { before: String(decodeCursor(q.cursor, ['s'])[0]) } : {}),
        limit: limit + 1,
      };
      const found = await warden.listTasks(filter);
      const page = found.slice(0, limit);
      return {
        tasks: page.map(({ input: _input, ...summary }) => summary),
        nextCursor: found.length > limit ? encodeCursor([page.at(-1)!.id]) : null,
      };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/tasks/:id',
    {
      onRequest: viewer,
      schema: {
        operationId: 'getTask',
        tags: ['tasks'],
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
      return { task, result: (await warden.storedResult(task.id)) ?? null };
    },
  );

  app.post<{ Params: { id: string } }>(
    '/tasks/:id/cancel',
    {
      onRequest: operator,
      schema: {
        operationId: 'cancelTask',
        tags: ['tasks'],
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
        operationId: 'streamTaskEvents',
        tags: ['tasks'],
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
