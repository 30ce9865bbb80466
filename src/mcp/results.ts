import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { WardenError, isWardenError } from '../core/index.js';

/** A tool's answer: a short text for the model, the full value as structured content for programs. */
export function toolOk(text: string, structured: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: structured };
}

/**
 * A failure as an MCP tool error (`isError: true`): the model sees `error [CODE]: message`, a program
 * reads `structuredContent.error.code`. Anything that is not a WardenError is a bug: its message stays
 * in this process's log (stderr), the client gets INTERNAL.
 */
export function toolError(err: unknown, log: (line: string) => void = logToStderr): CallToolResult {
  const coded = codedError(err, log);
  return {
    content: [{ type: 'text', text: `error [${coded.code}]: ${coded.message}` }],
    structuredContent: {
      error: coded.toJSON(),
    },
    isError: true,
  };
}

// JSON-RPC error codes for resource reads (a read has no isError form): -32002 is the spec's "resource
// not found"; the WardenError code travels in `data.code`.
const RESOURCE_NOT_FOUND = -32002;
const INVALID_PARAMS = -32602;
const INTERNAL_ERROR = -32603;

/** A failed resource read as a JSON-RPC error carrying the WardenError code and message. */
export function resourceError(err: unknown): McpError {
  const coded = codedError(err, logToStderr);
  const status = coded.status;
  const rpc = status === 404 ? RESOURCE_NOT_FOUND : status >= 500 ? INTERNAL_ERROR : INVALID_PARAMS;
  return new McpError(rpc, `[${coded.code}] ${coded.message}`, {
    code: coded.code,
    message: coded.message,
    ...(coded.details ? { details: coded.details } : {}),
  });
}

function codedError(err: unknown, log: (line: string) => void): WardenError {
  if (isWardenError(err)) return err;
  log(`mcp: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return new WardenError('INTERNAL', 'Internal error; it has been logged', { cause: err });
}

function logToStderr(line: string): void {
  process.stderr.write(`${line}\n`);
}
