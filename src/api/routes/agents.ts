import type { FastifyInstance } from 'fastify';
import { stringify } from 'yaml';
import { WardenError, parseManifest } from '../../core/index.js';
import type { AgentRecord } from '../../store/index.js';
import { tenantOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { errorResponses } from '../schemas.js';
import { agentListing } from '../../warden/index.js';

const agentSummary = {
  type: 'object',
  properties: {
    key: { type: 'string' },
    name: { type: 'string' },
    version: { type: 'string' },
    runtime: { type: 'string' },
    capabilities: { type: 'array', items: { type: 'string' } },
    moduleDigest: { type: ['string', 'null'] },
    tenant: { type: 'string' },
    shared: { type: 'boolean' },
    breaker: { type: 'string' },
    runnable: { type: 'boolean' },
    createdAt: { type: 'integer' },
  },
} as const;

const breakerSnapshot = {
  type: 'object',
  properties: {
    state: { type: 'string', enum: ['closed', 'open', 'half_open'] },
    consecutiveFailures: { type: 'integer' },
    openedAt: { type: ['integer', 'null'] },
  },
} as const;

const agentStatus = {
  type: 'object',
  properties: {
    ...agentSummary.properties,
    state: { type: 'string', enum: ['active', 'draining', 'idle'] },
    inFlight: { type: 'integer' },
    circuitBreaker: {
      type: 'object',
      properties: { ...breakerSnapshot.properties, nextProbeAt: { type: ['integer', 'null'] } },
    },
  },
} as const;

const agentVersion = {
  type: 'object',
  properties: {
    key: { type: 'string' },
    name: { type: 'string' },
    version: { type: 'string' },
    description: { type: 'string' },
    runtime: { type: 'string' },
    capabilities: { type: 'array', items: { type: 'string' } },
    moduleDigest: { type: ['string', 'null'] },
    tenant: { type: 'string' },
    shared: { type: 'boolean' },
    createdAt: { type: 'integer' },
  },
} as const;

export function agentRoutes(app: FastifyInstance, { warden, viewer, operator, admin }: ApiContext): void {
  app.get(
    '/agents',
    {
      onRequest: viewer,
      schema: {
        operationId: 'listAgents',
        tags: ['agents'],
        summary: "The agent versions the key's tenant may use: its own and shared ones",
        response: { 200: { type: 'array', items: agentVersion }, ...errorResponses },
      },
    },
    async (request) => (await warden.listAgents({ tenant: tenantOf(request) })).map(agentListing),
  );

  app.post<{
    Body: { manifest: string | Record<string, unknown>; files?: Record<string, string>; shared?: boolean };
  }>(
    '/agents',
    {
      onRequest: admin,
      schema: {
        operationId: 'registerAgent',
        tags: ['agents'],
        summary:
          "Register an agent version in the key's tenant: its agent.yaml (text or object) and, optionally, its files (base64), e.g. a WASM module. Versions are immutable; `shared` (installation admins only) lets every tenant use it",
        body: {
          type: 'object',
          required: ['manifest'],
          additionalProperties: false,
          properties: {
            manifest: { anyOf: [{ type: 'string', minLength: 1, maxLength: 1_000_000 }, { type: 'object' }] },
            files: {
              type: 'object',
              maxProperties: 64,
              // Buffer.from(…, 'base64') skips what is not base64: a typo would store garbage silently.
              additionalProperties: {
                type: 'string',
                contentEncoding: 'base64',
                pattern: '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$',
              },
            },
            shared: { type: 'boolean' },
          },
        },
        response: { 201: agentSummary, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { manifest, files, shared } = request.body;
      const principal = request.principal!;
      if (shared && !principal.installation) {
        throw new WardenError(
          'FORBIDDEN',
          "Only an installation admin key can share an agent with every tenant (warden keys create --installation); this key's agents belong to its tenant",
        );
      }
      const text = typeof manifest === 'string' ? manifest : stringify(manifest);
      const parsed = parseManifest(text, 'request body');
      const record = await warden.registerAgentFiles(
        parsed,
        new Map(Object.entries(files ?? {}).map(([name, b64]) => [name, Buffer.from(b64, 'base64')])),
        { tenant: tenantOf(request), shared: shared === true },
      );
      return reply.status(201).send(summary(record, 'closed', true));
    },
  );

  app.get<{ Querystring: { agent?: string; timeoutMs?: string } }>(
    '/agents/health',
    {
      onRequest: viewer,
      schema: {
        operationId: 'getAgentHealth',
        tags: ['agents'],
        summary:
          'Probe registered agents without running a task: LLM endpoints list their models, local models load, other runtimes prepare',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            agent: { type: 'string', minLength: 1, maxLength: 200 },
            // Text, as every query value is (no coercion, see server.ts): 100 to 60000.
            timeoutMs: { type: 'string', pattern: '^(?:[1-9][0-9]{2,3}|[1-5][0-9]{4}|60000)$' },
          },
        },
        response: {
          200: {
            type: 'array',
            items: {
              type: 'object',
              required: ['agent', 'runtime', 'ok', 'check', 'latencyMs'],
              properties: {
                agent: { type: 'string' },
                runtime: { type: 'string' },
                provider: { type: 'string' },
                model: { type: 'string' },
                ok: { type: 'boolean' },
                check: { type: 'string' },
                latencyMs: { type: 'number' },
                code: { type: 'string' },
                message: { type: 'string' },
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request) =>
      warden.agentHealth({
        tenant: tenantOf(request),
        ...(request.query.agent ? { agent: request.query.agent } : {}),
        ...(request.query.timeoutMs ? { timeoutMs: Number(request.query.timeoutMs) } : {}),
      }),
  );

  app.get(
    '/agents/status',
    {
      onRequest: viewer,
      schema: {
        operationId: 'getAgentStatus',
        tags: ['agents'],
        summary:
          "The agent versions the key's tenant may use (its own and shared ones): rollout state, circuit breaker as stored, whether this server can run them",
        response: { 200: { type: 'array', items: agentStatus }, ...errorResponses },
      },
    },
    async (request) =>
      (await warden.agentStatus({ tenant: tenantOf(request) })).map((a) => ({
        ...summary(a, a.breaker.state, a.runnable),
        state: a.state,
        inFlight: a.inFlight,
        circuitBreaker: a.breaker,
      })),
  );

  app.post<{ Params: { agent: string } }>(
    '/agents/:agent/breaker/reset',
    {
      onRequest: operator,
      schema: {
        operationId: 'resetAgentBreaker',
        tags: ['agents'],
        summary:
          "Close the circuit breaker of name@version (or of every version of name) of the key's tenant now; its held tasks run",
        params: {
          type: 'object',
          required: ['agent'],
          properties: { agent: { type: 'string', minLength: 1, maxLength: 200 } },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              reset: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    agent: { type: 'string' },
                    previous: { ...breakerSnapshot, type: ['object', 'null'] },
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
      const reset = await warden.resetBreaker(request.params.agent, {
        via: 'api',
        tenant: tenantOf(request),
      });
      // The chain records that an operator reset it; the server log records which key did.
      request.log.info(
        { reset, tenant: request.principal?.tenant, keyId: request.principal?.id },
        'circuit breaker reset',
      );
      return { reset };
    },
  );
}

function summary(record: AgentRecord, breaker: string, runnable: boolean) {
  const m = record.manifest;
  return {
    key: record.key,
    name: m.name,
    version: m.version,
    runtime: m.runtime,
    capabilities: m.capabilities,
    moduleDigest: record.moduleDigest,
    tenant: record.tenant,
    shared: record.shared,
    breaker,
    runnable,
    createdAt: record.createdAt,
  };
}
