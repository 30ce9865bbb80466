import type { IncomingMessage, ServerResponse } from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Warden } from '../warden/index.js';
import type { McpPrincipal } from './scope.js';
import { createMcpServer } from './server.js';

/**
 * Answers one Streamable HTTP request (a POST of JSON-RPC messages) statelessly: a server and a transport
 * of its own, acting for the request's principal, gone when the response closes. No MCP session lives
 * between requests, so any process behind a load balancer can answer any request, and a key's tenant and
 * role apply to every call. Responses are plain JSON (no SSE stream is held open). `body` is the parsed
 * request body (fastify has read it).
 */
export async function handleMcpHttpRequest(
  warden: Warden,
  principal: McpPrincipal,
  req: IncomingMessage,
  res: ServerResponse,
  body: unknown,
): Promise<void> {
  const server = createMcpServer(warden, principal);
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  res.once('close', () => {
    void transport.close().catch(() => undefined);
    void server.close().catch(() => undefined);
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}
