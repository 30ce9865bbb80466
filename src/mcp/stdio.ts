import type { Readable, Writable } from 'node:stream';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

export interface StdioStreams {
  /** @default process.stdin */
  stdin?: Readable;
  /** @default process.stdout */
  stdout?: Writable;
}

/**
 * Serves `server` over newline-delimited JSON-RPC on stdin/stdout until stdin ends (the client went away)
 * or `signal` aborts. Nothing else may write to stdout meanwhile: it is the protocol channel.
 */
export async function serveMcpStdio(
  server: McpServer,
  options: StdioStreams & { signal?: AbortSignal } = {},
): Promise<void> {
  const stdin = options.stdin ?? process.stdin;
  const transport = new StdioServerTransport(stdin, options.stdout ?? process.stdout);
  const closed = new Promise<void>((resolve) => {
    server.server.onclose = resolve;
  });
  await server.connect(transport);
  await untilEnd(stdin, options.signal, closed);
  await server.close();
}

/** Resolves when `stdin` ends or closes, `signal` aborts, or `closed` settles. */
export async function untilEnd(stdin: Readable, signal?: AbortSignal, closed?: Promise<void>): Promise<void> {
  if (stdin.readableEnded || signal?.aborted) return;
  await new Promise<void>((resolve) => {
    stdin.once('end', resolve);
    stdin.once('close', resolve);
    signal?.addEventListener('abort', () => resolve(), { once: true });
    void closed?.then(resolve);
  });
}
