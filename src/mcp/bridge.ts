import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import {
  isInitializeRequest,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { WardenError } from '../core/index.js';
import { untilEnd, type StdioStreams } from './stdio.js';

export interface BridgeOptions extends StdioStreams {
  /** The remote Warden's base URL (`/mcp` is appended) or its `/mcp` endpoint. */
  server: string;
  /** An API key of the remote Warden: its tenant and role apply to every call. */
  key: string;
  /** Where diagnostics go (never stdout, the protocol channel). @default process.stderr */
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/**
 * Bridges a stdio MCP client (Claude Desktop, an IDE) to a remote Warden's Streamable HTTP endpoint:
 * every JSON-RPC message is forwarded as it is, both ways, with the key as a bearer token. A request the
 * remote side refuses or cannot be reached for (401, 403, network) is answered locally with a JSON-RPC
 * error, so the client never waits for an answer that will not come. Resolves when stdin ends.
 */
export async function bridgeStdioToHttp(options: BridgeOptions): Promise<void> {
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const url = mcpEndpoint(options.server);
  const stdin = options.stdin ?? process.stdin;
  const local = new StdioServerTransport(stdin, options.stdout ?? process.stdout);
  const remote = new StreamableHTTPClientTransport(url, {
    requestInit: { headers: { authorization: `Bearer ${options.key}` } },
  });
  // The negotiated version goes on every later request (MCP-Protocol-Version), as the SDK's Client does.
  const initializeIds = new Set<RequestId>();

  remote.onmessage = (message) => {
    if (isJSONRPCResultResponse(message) && initializeIds.delete(message.id)) {
      const version = (message.result as { protocolVersion?: unknown }).protocolVersion;
      if (typeof version === 'string') remote.setProtocolVersion(version);
    }
    void local.send(message);
  };
  remote.onerror = (err) => log(`mcp bridge: ${err.message}`);
  local.onerror = (err) => log(`mcp bridge: ${err.message}`);
  local.onmessage = (message: JSONRPCMessage) => {
    if (isInitializeRequest(message) && isJSONRPCRequest(message)) initializeIds.add(message.id);
    remote.send(message).catch((err: unknown) => {
      const text = err instanceof Error ? err.message : String(err);
      log(`mcp bridge: ${url.href}: ${text}`);
      if (isJSONRPCRequest(message))
        void local.send({
          jsonrpc: '2.0',
          id: message.id,
          error: { code: -32603, message: `Warden at ${url.origin}: ${text}`, data: remoteError(err) },
        });
    });
  };

  await remote.start();
  await local.start();
  try {
    await untilEnd(stdin, options.signal);
  } finally {
    // terminateSession is a no-op against a stateless server (no session id): just close both ends.
    await remote.close().catch(() => undefined);
    await local.close();
  }
}

/** `https://host:8080` → `https://host:8080/mcp`; a URL that already ends in /mcp is kept. */
export function mcpEndpoint(server: string): URL {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new WardenError(
      'INVALID_INPUT',
      `--server must be a URL such as http://127.0.0.1:8080, got ${server}`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new WardenError('INVALID_INPUT', `--server must be an http(s) URL, got ${server}`);
  if (!/\/mcp\/?$/.test(url.pathname)) url.pathname = `${url.pathname.replace(/\/$/, '')}/mcp`;
  return url;
}

/** The HTTP status and, when the body was a Warden error, its code (for the client's `error.data`). */
function remoteError(err: unknown): Record<string, unknown> {
  const status = (err as { code?: unknown }).code;
  const text = err instanceof Error ? err.message : '';
  const code = /"code":"([A-Z_]+)"/.exec(text)?.[1];
  return { ...(typeof status === 'number' ? { status } : {}), ...(code ? { code } : {}) };
}
