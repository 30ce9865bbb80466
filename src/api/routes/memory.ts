import type { FastifyInstance } from 'fastify';
import { sessionOf, tenantOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { errorResponses, idParams, pageQuery } from '../schemas.js';

// Cortex memory over HTTP (docs/memory.md). The tenant is the API key's: a session of another tenant is
// SESSION_NOT_FOUND and an item of another tenant MEMORY_NOT_FOUND, both 404, never a 403 that would tell
// the id exists.

const sessionParams = {
  type: 'object',
  required: ['session'],
  properties: {
    session: { type: 'string', minLength: 1, maxLength: 200, description: 'session id or name' },
  },
} as const;

const agentField = {
  type: 'string',
  minLength: 1,
  maxLength: 200,
  description: "an agent's own memory within the session (its name); absent: the session's",
} as const;

const itemSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    sessionId: { type: 'string' },
    agent: { type: ['string', 'null'] },
    text: { type: 'string' },
    metadata: { type: 'object', additionalProperties: true },
    taskId: { type: ['string', 'null'] },
    createdAt: { type: 'integer' },
    expiresAt: { type: ['integer', 'null'] },
  },
} as const;

interface PutBody {
  text: string;
  agent?: string;
  metadata?: Record<string, unknown>;
  ttlMs?: number;
}

interface SearchBody {
  query: string;
  agent?: string;
  k?: number;
  minScore?: number;
}

export function memoryRoutes(app: FastifyInstance, { warden, viewer, operator }: ApiContext): void {
  app.post<{ Params: { session: string }; Body: PutBody }>(
    '/sessions/:session/memory',
    {
      onRequest: operator,
      schema: {
        operationId: 'putMemory',
        tags: ['memory'],
        summary:
          "Store a memory item in a session (or one agent's memory in it); recorded in the session's provenance chain by its text digest",
        params: sessionParams,
        body: {
          type: 'object',
          required: ['text'],
          additionalProperties: false,
          properties: {
            text: { type: 'string', minLength: 1 },
            agent: agentField,
            metadata: { type: 'object', additionalProperties: true },
            ttlMs: { type: 'integer', minimum: 1, description: 'expires this long after it is stored' },
          },
        },
        response: { 201: itemSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const session = await sessionOf(warden, request, request.params.session);
      const item = await warden.memory.put(session.id, request.body, { tenant: session.tenant });
      return reply.status(201).send(item);
    },
  );

  app.get<{ Params: { session: string }; Querystring: { agent?: string; limit?: string } }>(
    '/sessions/:session/memory',
    {
      onRequest: viewer,
      schema: {
        operationId: 'listMemory',
        tags: ['memory'],
        summary: "A session's (or one agent's) memory items that have not expired, newest first",
        params: sessionParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            agent: agentField,
            // A query string is text (no coercion, see server.ts): the same pattern as every list's limit.
            limit: pageQuery.limit,
          },
        },
        response: {
          200: { type: 'object', properties: { items: { type: 'array', items: itemSchema } } },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const session = await sessionOf(warden, request, request.params.session);
      const { agent, limit } = request.query;
      const items = await warden.memory.list(
        session.id,
        { ...(agent ? { agent } : {}), limit: limit ? Number(limit) : 100 },
        { tenant: session.tenant },
      );
      return { items };
    },
  );

  app.post<{ Params: { session: string }; Body: SearchBody }>(
    '/sessions/:session/memory/search',
    {
      onRequest: viewer,
      schema: {
        operationId: 'searchMemory',
        tags: ['memory'],
        summary: 'The k memory items nearest a query by cosine similarity (expired items never)',
        params: sessionParams,
        body: {
          type: 'object',
          required: ['query'],
          additionalProperties: false,
          properties: {
            query: { type: 'string', minLength: 1, maxLength: 65536 },
            agent: agentField,
            k: { type: 'integer', minimum: 1, maximum: 100, default: 5 },
            minScore: { type: 'number', minimum: -1, maximum: 1 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              hits: {
                type: 'array',
                items: { type: 'object', properties: { item: itemSchema, score: { type: 'number' } } },
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const session = await sessionOf(warden, request, request.params.session);
      const hits = await warden.memory.search(session.id, request.body, { tenant: session.tenant });
      return { hits };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/memory/:id',
    {
      onRequest: viewer,
      schema: {
        operationId: 'getMemory',
        tags: ['memory'],
        summary: 'A memory item of the key’s tenant',
        params: idParams,
        response: { 200: itemSchema, ...errorResponses },
      },
    },
    async (request) => warden.memory.get(request.params.id, { tenant: tenantOf(request) }),
  );

  app.delete<{ Params: { id: string } }>(
    '/memory/:id',
    {
      onRequest: operator,
      schema: {
        operationId: 'forgetMemory',
        tags: ['memory'],
        summary: "Forget a memory item (recorded in its session's provenance chain)",
        params: idParams,
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      await warden.memory.forget(request.params.id, { tenant: tenantOf(request) });
      return reply.status(204).send();
    },
  );
}
