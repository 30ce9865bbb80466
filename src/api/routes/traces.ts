import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { WardenError, canonicalJson } from '../../core/index.js';
import { sha256Hex } from '../../provenance/index.js';
import type { TraceFilter } from '../../store/index.js';
import { sessionOf, taskOf, tenantOf, traceOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { decodeCursor, encodeCursor, pageLimit } from '../cursor.js';
import { errorResponses, idParams, nextCursor, pageQuery } from '../schemas.js';

interface TraceListQuery {
  session?: string;
  taskId?: string;
  limit?: string;
  cursor?: string;
}

export function traceRoutes(app: FastifyInstance, { warden, viewer, operator }: ApiContext): void {
  app.get<{ Querystring: TraceListQuery }>(
    '/traces',
    {
      onRequest: viewer,
      schema: {
        operationId: 'listTraces',
        tags: ['traces'],
        summary:
          "The key's tenant's traces, newest first, without their documents (GET /traces/:id has it): filter by session or task; page with limit and cursor",
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            session: { type: 'string', minLength: 1, maxLength: 200, description: 'session id or name' },
            taskId: { type: 'string', minLength: 1, maxLength: 200 },
            ...pageQuery,
          },
        },
        response: {
          200: {
            type: 'object',
            properties: { traces: { type: 'array', items: { $ref: 'TraceSummary#' } }, nextCursor },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const q = request.query;
      const limit = pageLimit(q.limit);
      const before = q.cursor ? decodeCursor(q.cursor, ['n', 's']) : undefined;
      // Every id named is the tenant's or a 404; without one, the tenant's sessions only.
      const filter: TraceFilter = {
        ...(q.session ? { sessionId: (await sessionOf(warden, request, q.session)).id } : {}),
        ...(q.taskId ? { taskId: (await taskOf(warden, request, q.taskId)).id } : {}),
        tenant: tenantOf(request),
        ...(before ? { before: { createdAt: Number(before[0]), id: String(before[1]) } } : {}),
        limit: limit + 1,
      };
      const found = await warden.traces.listTraces(filter);
      const page = found.slice(0, limit);
      const last = page.at(-1);
      return {
        traces: page,
        nextCursor: found.length > limit && last ? encodeCursor([last.createdAt, last.id]) : null,
      };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/traces/:id',
    {
      onRequest: viewer,
      schema: {
        operationId: 'getTrace',
        tags: ['traces'],
        summary: 'A trace with its document',
        params: idParams,
        response: { 200: { $ref: 'Trace#' }, ...errorResponses },
      },
    },
    async (request) => traceOf(warden, request, request.params.id),
  );

  app.get<{ Params: { id: string } }>(
    '/traces/:id/provenance',
    {
      onRequest: viewer,
      schema: {
        operationId: 'listTraceProvenance',
        tags: ['traces'],
        summary:
          "The records of the session's provenance chain about a trace (its creation and every record appended about it), with their seq and hash",
        params: idParams,
        response: {
          200: {
            type: 'object',
            properties: {
              traceId: { type: 'string' },
              sessionId: { type: 'string' },
              records: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    seq: { type: 'integer' },
                    hash: { type: 'string' },
                    prevHash: { type: 'string' },
                    record: { type: 'object', additionalProperties: true },
                  },
                },
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const trace = await traceOf(warden, request, request.params.id);
      const links = await warden.traces.readTraceProvenance(trace.sessionId, trace.id);
      return {
        traceId: trace.id,
        sessionId: trace.sessionId,
        records: links.map((l) => ({
          seq: l.seq,
          hash: l.hash,
          prevHash: l.prevHash,
          record: JSON.parse(l.recordJson) as Record<string, unknown>,
        })),
      };
    },
  );

  app.post<{ Body: { session: string; taskId?: string; data: unknown } }>(
    '/traces',
    {
      onRequest: operator,
      schema: {
        operationId: 'createTrace',
        tags: ['traces'],
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
        response: { 201: { $ref: 'Trace#' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const session = await sessionOf(warden, request, request.body.session);
      if (request.body.taskId) {
        const task = await warden.findTask(request.body.taskId);
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
      const trace = await warden.traces.createTrace({
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
        operationId: 'appendTraceProvenance',
        tags: ['traces'],
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
      const head = await warden.traces.appendTraceProvenance(
        trace.id,
        { kind: request.body.kind, data: request.body.data ?? {} },
        Date.now(),
      );
      return reply.status(201).send({ traceId: trace.id, ...head });
    },
  );
}
