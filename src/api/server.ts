import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { MAX_JSON_DEPTH, WardenError, jsonValueProblem } from '../core/index.js';
import type { FgwPoolOptions } from '../rd/index.js';
import { WardenMetrics } from '../telemetry/index.js';
import type { Warden } from '../warden/index.js';
import { requireRole } from './auth.js';
import type { ApiContext } from './context.js';
import { errorBody, installErrorHandlers } from './errors.js';
import { KeyVerifier } from './keys.js';
import { endStreams } from './open-streams.js';
import { agentRoutes } from './routes/agents.js';
import { kpiRoutes } from './routes/kpi.js';
import { healthRoutes } from './routes/health.js';
import { operationRoutes } from './routes/operations.js';
import { rdRoutes } from './routes/rd.js';
import { governanceRoutes } from './routes/governance.js';
import { edgeRoutes } from './routes/edge.js';
import { eventRoutes } from './routes/events.js';
import { routingRoutes } from './routes/routing.js';
import { sessionRoutes } from './routes/sessions.js';
import { taskRoutes } from './routes/tasks.js';
import { taskHistoryRoutes } from './routes/task-history.js';
import { traceRoutes } from './routes/traces.js';
import { memoryRoutes } from './routes/memory.js';
import { mcpRoutes } from './routes/mcp.js';
import { uiRoutes } from './routes/ui.js';
import { overviewRoutes } from './routes/overview.js';
import { swaggerOptions } from './openapi.js';
import { sharedSchemas } from './schemas.js';

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

export interface ApiOptions {
  /** Requests per key (or per address without a key) per window; false disables. @default { max: 6000, windowMs: 60000 } */
  rateLimit?: { max: number; windowMs: number } | false;
  /** Largest request body. @default 2 MiB */
  bodyLimitBytes?: number;
  /** fastify/pino logger options; false for none. @default { level: 'info' } with secrets redacted */
  logger?: FastifyServerOptions['logger'];
  /** PEM files; TLS is on when both are set. @default env TLS_CERT / TLS_KEY */
  tls?: { certPath: string; keyPath: string };
  /** The worker pool of `POST /rd/fgw`. @default { workers: 1, maxQueue: 4, budgetMs: 10000, maxHeapMb: 256 } */
  rd?: FgwPoolOptions;
}

/** Builds the HTTP API around an open Warden (not listening yet: tests use inject()). */
export async function buildServer(warden: Warden, options: ApiOptions = {}): Promise<FastifyInstance> {
  const tls =
    options.tls ??
    (process.env['TLS_CERT'] && process.env['TLS_KEY']
      ? { certPath: process.env['TLS_CERT'], keyPath: process.env['TLS_KEY'] }
      : undefined);
  const app = Fastify({
    logger: options.logger ?? { level: 'info', redact: ['req.headers.authorization'] },
    bodyLimit: options.bodyLimitBytes ?? 2 * 1024 * 1024,
    genReqId: (req) =>
      typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id'].length <= 128
        ? req.headers['x-request-id']
        : crypto.randomUUID(),
    // No type coercion: a number where a string belongs is a client error, not something to fix up.
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true, allowUnionTypes: true },
    },
    routerOptions: { maxParamLength: 500 },
    // Requests Node's HTTP parser refuses (a raw invalid byte in the path, a malformed chunked body) never
    // reach fastify: they get our JSON error shape here, not Node's or fastify's.
    clientErrorHandler: (error, socket) => {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
      const [status, reason, errorCode] =
        code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request Header Fields Too Large', 'PAYLOAD_TOO_LARGE']
          : code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? [408, 'Request Timeout', 'REQUEST_TIMEOUT']
            : [400, 'Bad Request', 'INVALID_INPUT'];
      const body = JSON.stringify(
        errorBody(
          errorCode,
          `Malformed HTTP request (${code ?? error.message}): fix the request line, headers or body encoding`,
        ),
      );
      socket.end(
        `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    },
    // Errors fastify raises before routing (bad URL encoding, over-long parameters) get our JSON shape too.
    frameworkErrors: (error, _request, reply) => {
      const status = (error as { statusCode?: number }).statusCode ?? 400;
      void (reply as unknown as FastifyReply)
        .status(status)
        .send(errorBody(status === 414 ? 'NOT_FOUND' : 'INVALID_INPUT', error.message));
    },
    ...(tls ? { https: { cert: readFileSync(tls.certPath), key: readFileSync(tls.keyPath) } } : {}),
  }) as unknown as FastifyInstance;
  installErrorHandlers(app);
  // fastify decodes a JSON body as UTF-8 leniently: invalid bytes would be stored as U+FFFD, silently.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      text = STRICT_UTF8.decode(body as Buffer);
    } catch {
      return done(
        new WardenError('INVALID_JSON', 'The request body is not valid UTF-8: send JSON encoded as UTF-8'),
        undefined,
      );
    }
    void json(request, text, done);
  });
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-request-id', request.id);
    return payload;
  });
  // Every string a request carries (body, query, path) must be well-formed Unicode and every value
  // shallower than MAX_JSON_DEPTH, before any route sees it: a lone surrogate or a 10,000-deep object
  // would otherwise fail deep inside hashing, YAML or the store (a 500, or a batch shared with others).
  app.addHook('preValidation', async (request) => {
    for (const [what, value] of [
      ['body', request.body],
      ['query', request.query],
      ['params', request.params],
    ] as const) {
      const problem = jsonValueProblem(value, MAX_JSON_DEPTH, what);
      if (problem)
        throw new WardenError('INVALID_INPUT', `Invalid request: ${problem.path} ${problem.message}`, {
          details: { issues: [problem] },
        });
    }
  });
  for (const schema of sharedSchemas) app.addSchema(schema);

  await app.register(swagger, swaggerOptions({ version: '0.1.0' }));
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const verifier = new KeyVerifier(warden.apiKeys);
  if (options.rateLimit !== false) {
    const limit = options.rateLimit ?? { max: 6000, windowMs: 60_000 };
    await app.register(rateLimit, {
      max: limit.max,
      timeWindow: limit.windowMs,
      keyGenerator: (req) => {
        const auth = req.headers.authorization;
        return typeof auth === 'string' && auth.length < 300 ? `key:${auth}` : `ip:${req.ip}`;
      },
      errorResponseBuilder: (_req, ctx) => {
        const err = new WardenError(
          'RATE_LIMITED',
          `Rate limit of ${ctx.max} requests per ${ctx.after} exceeded; retry later`,
        );
        return Object.assign(err, { statusCode: 429, body: errorBody('RATE_LIMITED', err.message) });
      },
    });
  }

  const ctx: ApiContext = {
    warden,
    metrics: new WardenMetrics(warden),
    verifier,
    startedAt: Date.now(),
    viewer: requireRole(verifier, 'viewer'),
    operator: requireRole(verifier, 'operator'),
    admin: requireRole(verifier, 'admin'),
    installation: requireRole(verifier, 'admin', { installation: true }),
  };
  app.addHook('onClose', async () => ctx.metrics.dispose());
  app.addHook('preClose', async () => endStreams(app));
  healthRoutes(app, ctx);
  sessionRoutes(app, ctx);
  taskRoutes(app, ctx);
  eventRoutes(app, ctx);
  taskHistoryRoutes(app, ctx);
  agentRoutes(app, ctx);
  kpiRoutes(app, ctx);
  traceRoutes(app, ctx);
  memoryRoutes(app, ctx);
  operationRoutes(app, ctx);
  rdRoutes(app, ctx, options.rd);
  governanceRoutes(app, ctx);
  edgeRoutes(app, ctx);
  routingRoutes(app, ctx);
  overviewRoutes(app, ctx);
  mcpRoutes(app, ctx);
  // Edge nodes connect over WebSocket on the same listener (ws(s)://host:port/edge).
  warden.edges.attach(app.server);
  await uiRoutes(app);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.ready();
  return app;
}
