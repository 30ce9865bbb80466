import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { stringify } from 'yaml';
import { WardenError, agentKey, parseManifest } from '../../core/index.js';
import type { ApiContext } from '../context.js';
import { errorResponses } from '../schemas.js';

const agentSummary = {
  type: 'object',
  properties: {
    key: { type: 'string' },
    name: { type: 'string' },
    version: { type: 'string' },
    runtime: { type: 'string' },
    capabilities: { type: 'array', items: { type: 'string' } },
    moduleDigest: { type: ['string', 'null'] },
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
    createdAt: { type: 'integer' },
  },
} as const;

export function agentRoutes(app: FastifyInstance, { warden, viewer, operator, admin }: ApiContext): void {
  app.get(
    '/agents',
    {
      onRequest: viewer,
      schema: {
        summary: 'The registered agent versions visible to this key',
        response: { 200: { type: 'array', items: agentVersion }, ...errorResponses },
      },
    },
    async () =>
      (await warden.listAgents()).map(({ key, manifest: m, moduleDigest, createdAt }) => ({
        key,
        name: m.name,
        version: m.version,
        ...(m.description ? { description: m.description } : {}),
        runtime: m.runtime,
        capabilities: m.capabilities,
        moduleDigest,
        createdAt,
      })),
  );

  app.post<{ Body: { manifest: string | Record<string, unknown>; files?: Record<string, string> } }>(
    '/agents',
    {
      onRequest: admin,
      schema: {
        summary:
          'Register an agent version: its agent.yaml (text or object) and, optionally, its files (base64), e.g. a WASM module',
        body: {
          type: 'object',
          required: ['manifest'],
          additionalProperties: false,
          properties: {
            manifest: { anyOf: [{ type: 'string', minLength: 1, maxLength: 1_000_000 }, { type: 'object' }] },
            files: {
              type: 'object',
              maxProperties: 64,
              additionalProperties: { type: 'string', contentEncoding: 'base64' },
            },
          },
        },
        response: { 201: agentSummary, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { manifest, files } = request.body;
      const text = typeof manifest === 'string' ? manifest : stringify(manifest);
      const parsed = parseManifest(text, 'request body');
      const baseDir = join(warden.storageRoot, 'agents', parsed.name, parsed.version);
      for (const [name, content] of Object.entries(files ?? {})) {
        const path = safeJoin(baseDir, name);
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, Buffer.from(content, 'base64'), { mode: 0o640 });
      }
      const record = await warden.registerAgent({ ...parsed, baseDir });
      return reply
        .status(201)
        .send(summary(record.manifest, record.moduleDigest, record.createdAt, 'closed', true));
    },
  );

  app.get<{ Querystring: { agent?: string; timeoutMs?: number } }>(
    '/agents/health',
    {
      onRequest: viewer,
      schema: {
        summary:
          'Probe registered agents without running a task: LLM endpoints list their models, local models load, other runtimes prepare',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            agent: { type: 'string', minLength: 1, maxLength: 200 },
            timeoutMs: { type: 'integer', minimum: 100, maximum: 60_000 },
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
        ...(request.query.agent ? { agent: request.query.agent } : {}),
        ...(request.query.timeoutMs ? { timeoutMs: request.query.timeoutMs } : {}),
      }),
  );

  app.get(
    '/agents/status',
    {
      onRequest: viewer,
      schema: {
        summary:
          'Every registered agent version: its rollout state, its circuit breaker as stored, whether this server can run it',
        response: { 200: { type: 'array', items: agentStatus }, ...errorResponses },
      },
    },
    async () =>
      (await warden.agentStatus()).map((a) => ({
        ...summary(a.manifest, a.moduleDigest, a.createdAt, a.breaker.state, a.runnable),
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
        summary:
          'Close the circuit breaker of name@version (or of every version of name) now; its held tasks run',
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
      const reset = await warden.resetBreaker(request.params.agent, { via: 'api' });
      // The chain records that an operator reset it; the server log records which key did.
      request.log.info(
        { reset, tenant: request.principal?.tenant, keyId: request.principal?.id },
        'circuit breaker reset',
      );
      return { reset };
    },
  );
}

function summary(
  m: Parameters<typeof agentKey>[0] & { runtime: string; capabilities: string[] },
  moduleDigest: string | null,
  createdAt: number,
  breaker: string,
  runnable: boolean,
) {
  return {
    key: agentKey(m),
    name: m.name,
    version: m.version,
    runtime: m.runtime,
    capabilities: m.capabilities,
    moduleDigest,
    breaker,
    runnable,
    createdAt,
  };
}

/** Resolves an uploaded file name inside the agent's directory, refusing absolute paths and `..`. */
function safeJoin(base: string, name: string): string {
  const cleaned = normalize(name);
  const path = resolve(base, cleaned);
  if (isAbsolute(name) || cleaned.startsWith('..') || !path.startsWith(`${resolve(base)}/`)) {
    throw new WardenError(
      'INVALID_INPUT',
      `File name ${JSON.stringify(name)} must be a relative path inside the agent's directory`,
      {
        details: { file: name },
      },
    );
  }
  return path;
}
