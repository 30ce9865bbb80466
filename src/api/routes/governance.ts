import type { FastifyInstance } from 'fastify';
import { Readable } from 'node:stream';
import { WardenError } from '../../core/index.js';
import { Governance } from '../../governance/index.js';
import { sessionOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { errorResponses } from '../schemas.js';
import { taskOf } from './tasks.js';

const counts = { type: 'object', additionalProperties: { type: 'integer' } } as const;

export function governanceRoutes(
  app: FastifyInstance,
  { warden, viewer, operator, admin }: ApiContext,
): void {
  app.get<{ Querystring: { session?: string } }>(
    '/governance/stats',
    {
      onRequest: viewer,
      schema: {
        operationId: 'getGovernanceStats',
        tags: ['governance'],
        summary: "Trace flags by type, severity and agent, for one session or all of the key's tenant",
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { session: { type: 'string', minLength: 1, maxLength: 200 } },
        },
        response: {
          200: {
            type: 'object',
            properties: { total: { type: 'integer' }, byFlag: counts, bySeverity: counts, byAgent: counts },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const sessions = request.query.session
        ? [await sessionOf(warden, request, request.query.session)]
        : await warden.listSessions(request.principal!.tenant);
      return warden.governance.statsOf(sessions.map((s) => s.id));
    },
  );

  app.get<{ Querystring: { session?: string; task?: string; limit?: string } }>(
    '/governance/flags',
    {
      onRequest: viewer,
      schema: {
        operationId: 'listFlags',
        tags: ['governance'],
        summary:
          'Trace flags of one session or of some tasks (task=id1,id2,…: at most 100), oldest first: what holds a quarantined task back',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            session: { type: 'string', minLength: 1, maxLength: 200, description: 'session id or name' },
            task: {
              type: 'string',
              minLength: 1,
              maxLength: 20_000,
              description: 'comma-separated task ids',
            },
            limit: {
              type: 'string',
              pattern: '^(?:[1-9][0-9]{0,2}|1000)$',
              description: '1-1000 (default 200)',
            },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              flags: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    id: { type: 'string' },
                    sessionId: { type: 'string' },
                    taskId: { type: ['string', 'null'] },
                    agentKey: { type: ['string', 'null'] },
                    type: { type: 'string' },
                    severity: { type: 'integer' },
                    reason: { type: 'string' },
                    autoDetected: { type: 'boolean' },
                    detector: { type: ['string', 'null'] },
                    stage: { type: 'string' },
                    timestamp: { type: 'integer' },
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
      const { session, task, limit } = request.query;
      // Unscoped, this would read every tenant's flags: one of the two filters is required.
      if (session === undefined && task === undefined)
        throw new WardenError('INVALID_INPUT', 'Name a `session` or some tasks (`task=id1,id2`)', {
          details: { fields: ['session', 'task'] },
        });
      const ids = task === undefined ? undefined : [...new Set(task.split(',').filter(Boolean))];
      if (ids && (ids.length === 0 || ids.length > 100))
        throw new WardenError('INVALID_INPUT', '`task` takes 1 to 100 comma-separated task ids', {
          details: { fields: ['task'] },
        });
      // Every id goes through the tenant checks: another tenant's task is a 404 like a missing one.
      for (const id of ids ?? []) await taskOf(warden, request, id);
      const sessionId = session === undefined ? undefined : (await sessionOf(warden, request, session)).id;
      const flags = await warden.governance.flags({
        ...(sessionId ? { sessionId } : {}),
        ...(ids ? { taskIds: ids } : {}),
        limit: limit === undefined ? 200 : Number(limit),
      });
      return { flags };
    },
  );

  app.post<{ Body: { taskId: string; type: string; severity: number; reason: string } }>(
    '/governance/flag',
    {
      onRequest: operator,
      schema: {
        operationId: 'flagTask',
        tags: ['governance'],
        summary:
          'Flag a task by hand (Jailbreak, Anomaly, HighRisk, Unsafe, Malicious, Unverified; severity 1-10)',
        body: {
          type: 'object',
          required: ['taskId', 'type', 'severity', 'reason'],
          additionalProperties: false,
          properties: {
            taskId: { type: 'string', minLength: 1, maxLength: 200 },
            type: { type: 'string', minLength: 1, maxLength: 32 },
            severity: { type: 'integer', minimum: 1, maximum: 10 },
            reason: { type: 'string', minLength: 1, maxLength: 2000 },
          },
        },
        response: { 201: { type: 'object', additionalProperties: true }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const task = await taskOf(warden, request, request.body.taskId);
      const { type, severity, reason } = request.body;
      return reply
        .status(201)
        .send(await warden.governance.flag(task, { type, severity, reason, by: request.principal!.name }));
    },
  );

  app.post<{ Body: { text?: string; texts?: string[]; policy?: string } }>(
    '/governance/screen',
    {
      onRequest: viewer,
      schema: {
        operationId: 'screenText',
        tags: ['governance'],
        summary:
          "Screen text as a language-model agent's input: flags, the policy's action and the detector scores, nothing stored",
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            text: { type: 'string', minLength: 1, maxLength: 65536 },
            texts: {
              type: 'array',
              minItems: 1,
              maxItems: 32,
              items: { type: 'string', minLength: 1, maxLength: 65536 },
            },
            policy: { type: 'string', minLength: 1, maxLength: 200 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              policy: { type: 'string' },
              action: { type: 'string', enum: ['allow', 'flag', 'block'] },
              flags: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    type: { type: 'string' },
                    severity: { type: 'number' },
                    reason: { type: 'string' },
                    detector: { type: 'string' },
                  },
                },
              },
              scores: {
                type: 'object',
                properties: { jailbreak: { type: 'number' }, harmful: { type: 'number' } },
              },
              thresholds: {
                type: 'object',
                properties: { jailbreak: { type: 'number' }, harmful: { type: 'number' } },
              },
              signals: { type: 'array', items: { type: 'string' } },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { text, texts, policy } = request.body;
      if ((text === undefined) === (texts === undefined))
        throw new WardenError(
          'INVALID_INPUT',
          'Send either `text` (a string) or `texts` (an array of strings)',
          {
            details: { fields: ['text', 'texts'] },
          },
        );
      // A policy file would be read by the server: screening names presets and registered policies only.
      if (policy !== undefined && Governance.namesFile(policy))
        throw new WardenError(
          'POLICY_FILE_FORBIDDEN',
          'Screening names a preset (permissive, default, strict) or a registered policy, not a policy file',
          { details: { policy } },
        );
      return warden.governance.screen(text ?? texts!, policy !== undefined ? { policy } : {});
    },
  );

  app.post<{ Body: { session: string; ids: string[] } }>(
    '/governance/validate-merge',
    {
      onRequest: operator,
      schema: {
        operationId: 'validateMerge',
        tags: ['governance'],
        summary: "validate_merge: may these tasks' results be merged under the session's policy?",
        body: {
          type: 'object',
          required: ['session', 'ids'],
          additionalProperties: false,
          properties: {
            session: { type: 'string', minLength: 1, maxLength: 200 },
            ids: {
              type: 'array',
              minItems: 1,
              maxItems: 1000,
              items: { type: 'string', minLength: 1, maxLength: 200 },
            },
          },
        },
        response: { 200: { type: 'object', additionalProperties: true }, ...errorResponses },
      },
    },
    async (request) =>
      warden.governance.validateMerge(
        await sessionOf(warden, request, request.body.session),
        request.body.ids,
      ),
  );

  app.post<{ Body: { taskId: string; reason?: string } }>(
    '/governance/release',
    {
      onRequest: admin,
      schema: {
        operationId: 'releaseTask',
        tags: ['governance'],
        summary: 'Release a quarantined task: it becomes succeeded (recorded as task.released)',
        body: {
          type: 'object',
          required: ['taskId'],
          additionalProperties: false,
          properties: {
            taskId: { type: 'string', minLength: 1, maxLength: 200 },
            reason: { type: 'string', maxLength: 2000 },
          },
        },
        response: { 200: { $ref: 'Task#' }, ...errorResponses },
      },
    },
    async (request) => {
      const task = await taskOf(warden, request, request.body.taskId);
      return warden.governance.release(task.id, {
        by: request.principal!.name,
        ...(request.body.reason ? { reason: request.body.reason } : {}),
      });
    },
  );

  app.post<{ Body: { session: string; since?: number } }>(
    '/artifacts/export',
    {
      onRequest: viewer,
      schema: {
        operationId: 'exportProvenance',
        tags: ['provenance'],
        summary:
          "Export a session's provenance bundle, streamed (verify it offline with `warden verify bundle.json`); with `since`, only the records after that tree size (an earlier export's X-Warden-Tree-Size), as an incremental bundle",
        body: {
          type: 'object',
          required: ['session'],
          additionalProperties: false,
          properties: {
            session: { type: 'string', minLength: 1, maxLength: 200 },
            since: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
          },
        },
        response: errorResponses,
      },
    },
    async (request, reply) => {
      const session = await sessionOf(warden, request, request.body.session);
      // Verified on a snapshot before the first byte (errors are still plain JSON errors), then streamed.
      const bundle = await warden.exportProvenanceStream(session.id, { since: request.body.since ?? 0 });
      const s = bundle.summary;
      // However the response ends (sent, client gone), the snapshot ends with it.
      reply.raw.on('close', () => bundle.close());
      return reply
        .header('content-type', 'application/json; charset=utf-8')
        .header('x-warden-tree-size', String(s.treeSize))
        .header('x-warden-since', String(s.since))
        .header('x-warden-records', String(s.records))
        .send(Readable.from(bundle.chunks(), { objectMode: false }));
    },
  );
}
