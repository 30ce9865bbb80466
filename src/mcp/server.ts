import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { WardenError } from '../core/index.js';
import type { Warden } from '../warden/index.js';
import { registerResources } from './resources.js';
import { toolError } from './results.js';
import type { McpPrincipal } from './scope.js';
import { registerTools } from './tools.js';

const INSTRUCTIONS =
  'Warden runs AI agents in sandboxes with hard quotas, a durable priority queue and a tamper-evident provenance log. ' +
  'list_agents shows what can run; submit_task runs one (with `wait` to get the result in the same call); get_task ' +
  'and the warden://tasks/{id}/result and /logs resources read it back; verify_session and export_provenance prove ' +
  'what ran. Every error carries a stable code (error [CODE]: message).';

/**
 * An MCP server whose tools and resources act for `principal`: its tenant's sessions, tasks and agents
 * only, and its role (viewer: read; operator or admin: also submit and cancel). Connect it to a transport
 * (stdio, or one Streamable HTTP request) and close it with the transport.
 * @example
 * const server = createMcpServer(warden, { tenant: 'default', role: 'admin' });
 * await server.connect(new StdioServerTransport());
 */
export function createMcpServer(warden: Warden, principal: McpPrincipal): McpServer {
  const server = new McpServer(
    { name: 'warden', title: 'Warden', version: '0.1.0' },
    { instructions: INSTRUCTIONS, capabilities: { tools: {}, resources: {} } },
  );
  registerTools(server, warden, principal);
  registerResources(server, warden, principal);
  codeSdkToolErrors(server);
  return server;
}

/**
 * The SDK answers a call it rejects before any handler runs (arguments that fail the tool's schema, an
 * unknown tool) with an uncoded tool error; every other Warden tool error has a code, so these get
 * INVALID_INPUT. Our handlers never throw (they return coded errors), so only those reach this hook.
 * test/mcp/stdio.test.ts checks the code: a later SDK that renames the hook fails it.
 */
function codeSdkToolErrors(server: McpServer): void {
  const sdk = server as unknown as { createToolError?: (message: string) => CallToolResult };
  if (typeof sdk.createToolError !== 'function') return;
  sdk.createToolError = (message: string) =>
    toolError(new WardenError('INVALID_INPUT', message.replace(/^MCP error -?\d+: /, '')));
}
