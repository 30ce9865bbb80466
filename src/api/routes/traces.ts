import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { WardenError, canonicalJson } from '../../core/index.js';
import { sha256Hex } from '../../provenance/index.js';
import { sessionOf, traceOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { errorResponses, idParams } from '../schemas.js';

const traceSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    sessionId: { type: 'string' },
    taskId: { type: ['string', 'null'] },
    data: {},
    digest: { type: 'string' },
    createdAt: { type: 'integer' },
  },
} as const;

export function traceRoutes(app: FastifyInstance, { warden, operator }: ApiContext): void {
  app.post<{ Body: { session: string; taskId?: string; data: unknown } }>(
    '/traces',
    {
      onRequest: operator,
      schema: {
        summary:
          "Store a trace (any JSON document, e.g. an agent's reasoning) in a session; it is recorded in the session's provenance chain",
        body: {
          type: 'object',
          required: ['session', 'data'],
          additionalProperties: false,
          properties: {
            session: { type: 'string', minLength: 1, maxLength: 200 },
            taskId: { type: 'string', minLength: 1, maxLength: 200 },
            data: {},
          },
        },
        response: { 201: traceSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const session = await sessionOf(warden, request, request.body.session);
      if (request.body.taskId) {
        const task = await warden.store.getTask(request.body.taskId);
        if (!task || task.sessionId !== session.id) {
          throw new WardenError(
            'TASK_NOT_FOUND',
            `No task ${request.body.taskId} in session ${session.name}`,
          );
        }
      }
      let dataJson: string;
      try {
        dataJson = canonicalJson(request.body.data);
      } catch (cause) {
        throw new WardenError(
          'INVALID_INPUT',
          `Trace data cannot be canonicalised: ${(cause as Error).message}`,
          { cause },
        );
      }
      const trace = await warden.store.createTrace({
        id: randomUUID(),
        sessionId: session.id,
        taskId: request.body.taskId ?? null,
        dataJson,
        digest: sha256Hex(dataJson),
        createdAt: Date.now(),
      });
      return reply.status(201).send(trace);
    },
  );

  app.post<{ Params: { id: string }; Body: { kind: string; data?: Record<string, unknown> } }>(
    '/traces/:id/provenance',
    {
      onRequest: operator,
      schema: {
        summary: "Append a provenance record about a trace to its session's hash chain",
        params: idParams,
        body: {
          type: 'object',
          required: ['kind'],
          additionalProperties: false,
          properties: {
            kind: { type: 'string', minLength: 1, maxLength: 100 },
            data: { type: 'object', additionalProperties: true },
          },
        },
        response: {
          201: {
            type: 'object',
            properties: { traceId: { type: 'string' }, seq: { type: 'integer' }, hash: { type: 'string' } },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const trace = await traceOf(warden, request, request.params.id);
      try {
        canonicalJson(request.body.data ?? {});
      } catch (cause) {
        throw new WardenError(
          'INVALID_INPUT',
          `Provenance data cannot be canonicalised: ${(cause as Error).message}`,
          { cause },
        );
      }
      const head = await warden.store.appendTraceProvenance(
        trace.id,
        { kind: request.body.kind, data: request.body.data ?? {} },
        Date.now(),
      );
      return reply.status(201).send({ traceId: trace.id, ...head });
    },
  );
}
