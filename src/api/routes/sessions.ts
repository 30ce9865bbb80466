import type { FastifyInstance } from 'fastify';
import { PRIORITIES, WardenError, type PriorityName } from '../../core/index.js';
import { Governance } from '../../governance/index.js';
import { sessionOf, tenantOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { TRACEPARENT_KEY, TRACESTATE_KEY, parseTraceparent } from '../../telemetry/index.js';
import { errorResponses, idParams } from '../schemas.js';

const MAX_WAIT_MS = 60_000;

export function sessionRoutes(app: FastifyInstance, { warden, viewer, operator }: ApiContext): void {
  app.post<{
    Body: {
      name: string;
      maxConcurrency?: number;
      allowNetwork?: boolean;
      policy?: string;
      placement?: 'required' | 'allowed' | 'never';
    };
  }>(
    '/sessions',
    {
      onRequest: operator,
      schema: {
        operationId: 'createSession',
        tags: ['sessions'],
        summary: "Create a session in the key's tenant (returns the existing one of that name)",
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' },
            maxConcurrency: { type: 'integer', minimum: 1, maximum: 100000 },
            allowNetwork: { type: 'boolean' },
            policy: { type: 'string', minLength: 1, maxLength: 64 },
            placement: { type: 'string', enum: ['required', 'allowed', 'never'] },
          },
        },
        response: { 200: { $ref: 'Session#' }, 201: { $ref: 'Session#' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const tenant = request.principal!.tenant;
      const existing = await warden.findSession(request.body.name, tenant);
      if (existing && existing.tenant === tenant) return reply.status(200).send(existing);
      const { policy } = request.body;
      // A policy file is read by the server: only an admin may name one, and only inside its policy directory.
      let policyPath: string | undefined;
      if (policy !== undefined && Governance.namesFile(policy)) {
        if (request.principal!.role !== 'admin')
          throw new WardenError(
            'POLICY_FILE_FORBIDDEN',
            `Only admin keys may name a policy file; this key has the ${request.principal!.role} role: name a preset (permissive, default, strict) or a registered policy`,
            { details: { policy } },
          );
        policyPath = warden.governance.policyFileInDir(policy);
      }
      const session = await warden.ensureSession({
        ...request.body,
        ...(policyPath ? { policy: policyPath } : {}),
        tenant,
      });
      return reply.status(201).send(session);
    },
  );

  app.get(
    '/sessions',
    {
      onRequest: viewer,
      schema: {
        operationId: 'listSessions',
        tags: ['sessions'],
        summary: "The key's tenant's sessions, oldest first",
        response: {
          200: {
            type: 'object',
            properties: { sessions: { type: 'array', items: { $ref: 'Session#' } } },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => ({ sessions: await warden.listSessions(tenantOf(request)) }),
  );

  app.get<{ Params: { id: string } }>(
    '/sessions/:id',
    {
      onRequest: viewer,
      schema: {
        operationId: 'getSession',
        tags: ['sessions'],
        summary: 'A session by id or name',
        params: idParams,
        response: { 200: { $ref: 'Session#' }, ...errorResponses },
      },
    },
    async (request) => sessionOf(warden, request, request.params.id),
  );

  app.post<{
    Params: { id: string };
    Querystring: { wait?: string };
    Body: {
      agent?: string;
      capability?: string;
      intent?: string;
      input?: unknown;
      priority?: PriorityName; // the schema's enum
      deadline?: number | string;
      timeoutMs?: number;
      idempotencyKey?: string;
      metadata?: Record<string, string | number | boolean>;
    };
  }>(
    '/sessions/:id/execute',
    {
      onRequest: operator,
      schema: {
        operationId: 'executeTask',
        tags: ['tasks'],
        summary: 'Submit a task; with ?wait=ms, wait up to that long for its result',
        params: idParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            wait: {
              type: 'string',
              pattern: '^[0-9]{1,5}$',
              description: `milliseconds to wait for the result, at most ${MAX_WAIT_MS}`,
            },
          },
        },
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            agent: { type: 'string', minLength: 1, maxLength: 200 },
            capability: { type: 'string', minLength: 1, maxLength: 200 },
            intent: {
              type: 'string',
              minLength: 1,
              maxLength: 2000,
              description: 'what the task is for, in words: semantic routing picks the agent',
            },
            input: {},
            priority: { type: 'string', enum: Object.keys(PRIORITIES) },
            deadline: {
              anyOf: [
                { type: 'integer', minimum: 1 },
                { type: 'string', format: 'date-time' },
              ],
            },
            timeoutMs: { type: 'integer', minimum: 1 },
            idempotencyKey: { type: 'string', minLength: 1, maxLength: 256 },
            metadata: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
          },
        },
        // Documented, not enforced: an invalid trace context is ignored, as W3C Trace Context says.
        headers: {
          type: 'object',
          properties: {
            traceparent: {
              type: 'string',
              description:
                "W3C Trace Context: the task's spans join this trace (docs/telemetry.md); ignored when malformed",
            },
            tracestate: {
              type: 'string',
              description: 'W3C Trace Context vendor state, kept with traceparent',
            },
          },
        },
        response: {
          200: { type: 'object', properties: { task: { $ref: 'Task#' }, result: { $ref: 'TaskResult#' } } },
          202: { type: 'object', properties: { task: { $ref: 'Task#' } } },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const session = await sessionOf(warden, request, request.params.id);
      const body = request.body ?? {};
      if ([body.agent, body.capability, body.intent].filter((x) => x !== undefined).length !== 1) {
        const message = 'name exactly one of agent, capability or intent';
        throw new WardenError('INVALID_INPUT', `N${message.slice(1)}`, {
          details: { issues: [{ path: 'body.agent', message }] },
        });
      }
      const metadata = withTraceContext(body.metadata, request.headers);
      const task = await warden.submit({ ...body, ...(metadata ? { metadata } : {}), session: session.id });
      const wait = Math.min(Number(request.query.wait ?? 0), MAX_WAIT_MS);
      if (wait > 0) {
        const result = await warden.result(task.id, { timeoutMs: wait });
        if (result) return reply.status(200).send({ task: (await warden.findTask(task.id)) ?? task, result });
      }
      return reply.status(202).send({ task });
    },
  );
}

/**
 * A W3C `traceparent` header (and `tracestate`) on a submit is the task's trace context: it goes into the
 * task's metadata, where the library takes it from (docs/telemetry.md), unless the body's metadata names
 * one itself. An invalid header is ignored, as the specification says.
 */
function withTraceContext(
  metadata: Record<string, string | number | boolean> | undefined,
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | number | boolean> | undefined {
  const traceparent = headers['traceparent'];
  if (typeof traceparent !== 'string' || metadata?.[TRACEPARENT_KEY] !== undefined) return metadata;
  if (!parseTraceparent(traceparent)) return metadata;
  const tracestate = headers['tracestate'];
  return {
    ...metadata,
    [TRACEPARENT_KEY]: traceparent.trim(),
    ...(typeof tracestate === 'string' && tracestate.length <= 512 ? { [TRACESTATE_KEY]: tracestate } : {}),
  };
}
