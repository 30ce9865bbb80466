import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import { WardenError, isTerminal } from '../core/index.js';
import type { Warden } from '../warden/index.js';
import { readBundle } from './provenance.js';
import { resourceError } from './results.js';
import { sessionFor, taskFor, type McpPrincipal } from './scope.js';
import {
  LOGS_TEMPLATE,
  PROVENANCE_TEMPLATE,
  RESULT_TEMPLATE,
  logsUri,
  provenanceUri,
  resultUri,
} from './uris.js';

/** How many recent tasks resources/list shows (the templates reach every other one). */
const RECENT_TASKS = 20;

/** Registers the result, logs and provenance resource templates, scoped to `principal`'s tenant. */
export function registerResources(server: McpServer, warden: Warden, principal: McpPrincipal): void {
  const recentTasks = async () => warden.listTasks({ tenant: principal.tenant, limit: RECENT_TASKS });

  server.registerResource(
    'task-result',
    new ResourceTemplate(RESULT_TEMPLATE, {
      list: async () => ({
        resources: (await recentTasks())
          .filter((t) => isTerminal(t.state))
          .map((t) => ({
            uri: resultUri(t.id),
            name: `result of ${t.id}`,
            description: `${t.agent}: ${t.state}`,
            mimeType: 'application/json',
          })),
      }),
    }),
    {
      title: 'Task result',
      description: "A finished task's result (JSON: status, output, error, usage, digest)",
      mimeType: 'application/json',
    },
    guardedRead(async (uri, variables) => {
      const task = await taskFor(warden, principal, variable(variables, 'id'));
      const result = await warden.storedResult(task.id);
      if (!result)
        throw new WardenError('INVALID_STATE', `Task ${task.id} is ${task.state}: it has no result yet`, {
          details: { taskId: task.id, state: task.state },
        });
      return json(uri, result);
    }),
  );

  server.registerResource(
    'task-logs',
    new ResourceTemplate(LOGS_TEMPLATE, {
      list: async () => ({
        resources: (await recentTasks()).map((t) => ({
          uri: logsUri(t.id),
          name: `logs of ${t.id}`,
          description: `${t.agent}: ${t.state}`,
          mimeType: 'text/plain',
        })),
      }),
    }),
    {
      title: 'Task logs',
      description: "A task's log lines so far, one per line: [attempt N stdout|stderr|event] message",
      mimeType: 'text/plain',
    },
    guardedRead(async (uri, variables) => {
      const task = await taskFor(warden, principal, variable(variables, 'id'));
      const lines = await warden.logs(task.id);
      const text = lines.map((l) => `[attempt ${l.attempt} ${l.stream}] ${l.message}`).join('\n');
      return { contents: [{ uri: uri.href, mimeType: 'text/plain', text }] };
    }),
  );

  server.registerResource(
    'session-provenance',
    new ResourceTemplate(PROVENANCE_TEMPLATE, {
      list: async () => ({
        resources: (await warden.listSessions(principal.tenant)).map((s) => ({
          uri: provenanceUri(s.name),
          name: `provenance-${s.name}.json`,
          description: `provenance bundle of session ${s.name}`,
          mimeType: 'application/json',
        })),
      }),
    }),
    {
      title: 'Provenance bundle',
      description:
        "A session's provenance bundle, canonical JSON: verify it offline with `warden verify bundle.json`",
      mimeType: 'application/json',
    },
    guardedRead(async (uri, variables) => {
      const session = await sessionFor(warden, principal, variable(variables, 'session'));
      const { text } = await readBundle(warden, session.id, { text: true });
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: text ?? '' }] };
    }),
  );
}

type Variables = Record<string, string | string[]>;

/** Failures become JSON-RPC errors carrying the WardenError code (a read has no isError form). */
function guardedRead(body: (uri: URL, variables: Variables) => Promise<ReadResourceResult>) {
  return async (uri: URL, variables: Variables): Promise<ReadResourceResult> => {
    try {
      return await body(uri, variables);
    } catch (err) {
      throw resourceError(err);
    }
  };
}

/** One decoded template variable; a malformed escape is INVALID_INPUT, not an exception. */
function variable(variables: Variables, name: string): string {
  const raw = variables[name];
  const value = Array.isArray(raw) ? raw.join('/') : raw;
  try {
    if (value === undefined || value === '') throw new URIError('empty');
    return decodeURIComponent(value);
  } catch {
    throw new WardenError('INVALID_INPUT', `The resource URI has no valid ${name}`, {
      details: { [name]: value },
    });
  }
}

function json(uri: URL, value: unknown): ReadResourceResult {
  return {
    contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(value, null, 2) }],
  };
}
