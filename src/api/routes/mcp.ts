import type { FastifyInstance } from 'fastify';
import type * as Mcp from '../../mcp/index.js';
import type { ApiContext } from '../context.js';
import { trackStream } from '../open-streams.js';

// Loaded on the first MCP request: the SDK is not needed by anything else, nor by CLI commands that only
// import the API module.
let mcpModule: Promise<typeof Mcp> | undefined;
const loadMcp = () => (mcpModule ??= import('../../mcp/index.js'));

/** The answer to GET and DELETE in stateless mode: no session to stream from or to end. */
const METHOD_NOT_ALLOWED = {
  jsonrpc: '2.0',
  error: {
    code: -32000,
    message: 'Method not allowed: this endpoint is stateless (POST JSON-RPC messages to /mcp)',
  },
  id: null,
} as const;

const INTERNAL_ERROR = {
  jsonrpc: '2.0',
  error: { code: -32603, message: 'Internal error; it has been logged' },
  id: null,
} as const;

/**
 * MCP over Streamable HTTP at /mcp, stateless, behind the same API keys as the REST API: each request's
 * tools act for its key's tenant, and submit/cancel need the operator role (checked per tool, so a viewer
 * key can still read). Hidden from the OpenAPI document: it is JSON-RPC, described by the MCP spec.
 */
export function mcpRoutes(app: FastifyInstance, { warden, viewer }: ApiContext): void {
  app.post('/mcp', { onRequest: viewer, schema: { hide: true } }, async (request, reply) => {
    const { tenant, role, name } = request.principal!;
    reply.hijack();
    // Tracked like an event stream: a closing server ends it instead of waiting for a long submit_task wait.
    trackStream(request, reply.raw);
    try {
      const { handleMcpHttpRequest } = await loadMcp();
      await handleMcpHttpRequest(warden, { tenant, role, name }, request.raw, reply.raw, request.body);
    } catch (err) {
      // Hijacked: fastify's error handler no longer answers, so a failure here must not leave the client waiting.
      request.log.error({ err }, 'mcp request failed');
      if (!reply.raw.headersSent)
        reply.raw.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify(INTERNAL_ERROR));
      else reply.raw.end();
    }
  });
  // Stateless: no session to resume with GET or to end with DELETE (the SDK's guidance for this mode).
  for (const method of ['GET', 'DELETE'] as const)
    app.route({
      method,
      url: '/mcp',
      onRequest: viewer,
      schema: { hide: true },
      handler: async (_request, reply) => reply.status(405).header('allow', 'POST').send(METHOD_NOT_ALLOWED),
    });
}
