import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import {
  DEFAULT_SESSION,
  MAX_JSON_DEPTH,
  PRIORITIES,
  WardenError,
  jsonValueProblem,
  type PriorityName,
  type Task,
  type TaskResult,
} from '../core/index.js';
import { agentListing, type Warden } from '../warden/index.js';
import { readBundle, summarizeVerification } from './provenance.js';
import { toolError, toolOk } from './results.js';
import { requireOperator, sessionFor, taskFor, type McpPrincipal } from './scope.js';
import { provenanceUri, resultUri } from './uris.js';

/** The longest submit_task may hold a call open for the result (the same bound as POST /execute?wait). */
export const MAX_WAIT_MS = 60_000;

/** The tools every Warden MCP server offers, in the order tools/list shows them. */
export const MCP_TOOLS = [
  'submit_task',
  'get_task',
  'cancel_task',
  'list_agents',
  'verify_session',
  'export_provenance',
  'governance_stats',
] as const;

const taskId = z.string().min(1).max(200).describe('a task id, as submit_task returned it');
const sessionName = z.string().min(1).max(200);
const PRIORITY_NAMES = Object.keys(PRIORITIES) as [PriorityName, ...PriorityName[]];

/** Registers the seven tools on `server`; each runs for `principal` (its tenant, its role). */
export function registerTools(server: McpServer, warden: Warden, principal: McpPrincipal): void {
  // Every handler's failure becomes a coded tool error: a bad or hostile call never ends the connection.
  const guarded =
    <A>(body: (args: A) => Promise<CallToolResult>) =>
    async (args: A): Promise<CallToolResult> => {
      try {
        return await body(args);
      } catch (err) {
        return toolError(err);
      }
    };

  server.registerTool(
    'submit_task',
    {
      title: 'Submit a task',
      description:
        'Run a task on a registered agent (named, or picked by capability or by intent in words) in a session of your tenant. With `wait` (ms), waits that long for the result and returns it when the task finished in time; otherwise returns the queued task: read its result later with get_task. Needs the operator role.',
      inputSchema: z.strictObject({
        agent: z
          .string()
          .min(1)
          .max(200)
          .optional()
          .describe('agent name (its highest version) or name@version'),
        capability: z.string().min(1).max(200).optional().describe('any agent offering this capability'),
        intent: z
          .string()
          .min(1)
          .max(2000)
          .optional()
          .describe('what the task is for, in words: semantic routing picks the agent'),
        input: z.unknown().optional().describe("the agent's input (any JSON value)"),
        session: sessionName
          .default(DEFAULT_SESSION)
          .describe('session name or id; a name that does not exist yet is created with the default policy'),
        priority: z.enum(PRIORITY_NAMES).optional().describe('default normal'),
        wait: z
          .number()
          .int()
          .min(0)
          .max(MAX_WAIT_MS)
          .optional()
          .describe(`milliseconds to wait for the result, at most ${MAX_WAIT_MS}; 0 or absent: do not wait`),
        timeoutMs: z
          .number()
          .int()
          .min(1)
          .optional()
          .describe('per-task cap below the agent manifest timeout'),
        idempotencyKey: z
          .string()
          .min(1)
          .max(256)
          .optional()
          .describe('the same key in the same session returns the same task instead of a new one'),
      }),
      annotations: { destructiveHint: false, idempotentHint: false, openWorldHint: true },
    },
    guarded(async (args) => {
      requireOperator(principal, 'submit_task');
      if ([args.agent, args.capability, args.intent].filter((x) => x !== undefined).length !== 1)
        throw new WardenError('INVALID_INPUT', 'Name exactly one of agent, capability or intent', {
          details: {
            issues: [{ path: 'agent', message: 'name exactly one of agent, capability or intent' }],
          },
        });
      const problem = jsonValueProblem(args.input, MAX_JSON_DEPTH, 'input');
      if (problem)
        throw new WardenError('INVALID_INPUT', `Invalid input: ${problem.path} ${problem.message}`, {
          details: { issues: [problem] },
        });
      const session = await sessionOrCreate(warden, principal, args.session);
      const receipt = await warden.submit({
        ...(args.agent !== undefined ? { agent: args.agent } : {}),
        ...(args.capability !== undefined ? { capability: args.capability } : {}),
        ...(args.intent !== undefined ? { intent: args.intent } : {}),
        ...(args.input !== undefined ? { input: args.input } : {}),
        ...(args.priority ? { priority: args.priority } : {}),
        ...(args.timeoutMs !== undefined ? { timeoutMs: args.timeoutMs } : {}),
        ...(args.idempotencyKey !== undefined ? { idempotencyKey: args.idempotencyKey } : {}),
        session: session.id,
      });
      const { deduplicated: _deduplicated, ...submitted } = receipt;
      const result = args.wait ? await warden.result(receipt.id, { timeoutMs: args.wait }) : undefined;
      const task = result ? ((await warden.findTask(receipt.id)) ?? submitted) : submitted;
      return taskAnswer(task, result ?? null, receipt.deduplicated);
    }),
  );

  server.registerTool(
    'get_task',
    {
      title: 'Get a task',
      description: 'A task of your tenant and, once it is finished, its result (null before).',
      inputSchema: z.strictObject({ id: taskId }),
      annotations: { readOnlyHint: true },
    },
    guarded(async ({ id }) => {
      const task = await taskFor(warden, principal, id);
      return taskAnswer(task, (await warden.storedResult(task.id)) ?? null);
    }),
  );

  server.registerTool(
    'cancel_task',
    {
      title: 'Cancel a task',
      description: 'Cancel a queued task now, or stop a running one. Needs the operator role.',
      inputSchema: z.strictObject({ id: taskId }),
      annotations: { destructiveHint: true, idempotentHint: true },
    },
    guarded(async ({ id }) => {
      requireOperator(principal, 'cancel_task');
      const task = await taskFor(warden, principal, id);
      const outcome = await warden.cancel(task.id);
      return toolOk(
        `task ${task.id}: ${outcome.cancelledNow ? 'cancelled' : `cancel requested (state ${outcome.state})`}`,
        { taskId: task.id, ...outcome },
      );
    }),
  );

  server.registerTool(
    'list_agents',
    {
      title: 'List agents',
      description: 'The agent versions your tenant may use: its own and shared ones.',
      inputSchema: z.strictObject({}),
      annotations: { readOnlyHint: true },
    },
    guarded(async () => {
      const agents = (await warden.listAgents({ tenant: principal.tenant })).map(agentListing);
      const lines = agents.map(
        (a) =>
          `${a.key} (${a.runtime})${a.capabilities.length ? ` [${a.capabilities.join(', ')}]` : ''}${a.description ? `: ${a.description}` : ''}`,
      );
      return toolOk(
        agents.length ? `${agents.length} agent version(s):\n${lines.join('\n')}` : 'no agents registered',
        { agents },
      );
    }),
  );

  server.registerTool(
    'verify_session',
    {
      title: 'Verify a session',
      description:
        "Verify a session's provenance end to end: its hash chain, the signed tree head, the witness, and every task result against its record.",
      inputSchema: z.strictObject({
        session: sessionName.default(DEFAULT_SESSION).describe('session name or id'),
      }),
      annotations: { readOnlyHint: true },
    },
    guarded(async ({ session: name }) => {
      const session = await sessionFor(warden, principal, name);
      const verification = await warden.verify(session.id);
      return toolOk(summarizeVerification(session.name, verification), {
        session: session.name,
        ...verification,
      });
    }),
  );

  server.registerTool(
    'export_provenance',
    {
      title: 'Export provenance',
      description:
        "Export a session's provenance bundle (records, a signed tree head, the node's public key, one in-toto statement per succeeded task), verifiable offline with `warden verify bundle.json`. Returns its summary and the bundle as an embedded resource (or only a link to it with embed: false).",
      inputSchema: z.strictObject({
        session: sessionName.default(DEFAULT_SESSION).describe('session name or id'),
        embed: z.boolean().default(true).describe('embed the bundle text (else only a resource link)'),
      }),
      annotations: { readOnlyHint: true },
    },
    guarded(async ({ session: name, embed }) => {
      const session = await sessionFor(warden, principal, name);
      const uri = provenanceUri(session.name);
      const link = {
        type: 'resource_link' as const,
        uri,
        name: `provenance-${session.name}.json`,
        mimeType: 'application/json',
        description: `provenance bundle of session ${session.name}`,
      };
      // Without the text, the summary alone is cheap: no need to read every record now.
      const { summary, text } = await readBundle(warden, session.id, { text: embed });
      const line = `session ${session.name}: ${summary.records} records, ${summary.statements} statement(s), tree size ${summary.treeSize}, root ${summary.rootHash} (key ${summary.keyId}); bundle at ${uri}`;
      return {
        content: [
          { type: 'text', text: line },
          ...(text !== undefined
            ? [{ type: 'resource' as const, resource: { uri, mimeType: 'application/json', text } }]
            : [link]),
        ],
        structuredContent: { ...summary, uri },
      };
    }),
  );

  server.registerTool(
    'governance_stats',
    {
      title: 'Governance statistics',
      description:
        "Trace flags by type, severity and agent, for one session or all of your tenant's sessions.",
      inputSchema: z.strictObject({
        session: sessionName.optional().describe('session name or id (default: every session of the tenant)'),
      }),
      annotations: { readOnlyHint: true },
    },
    guarded(async ({ session: name }) => {
      const sessions = name
        ? [await sessionFor(warden, principal, name)]
        : await warden.listSessions(principal.tenant);
      const total = await warden.governance.statsOf(sessions.map((s) => s.id));
      const flags = Object.entries(total.byFlag).map(([k, n]) => `${k} ${n}`);
      return toolOk(
        `${total.total} flag(s) in ${sessions.length} session(s)${flags.length ? `: ${flags.join(', ')}` : ''}`,
        { sessions: sessions.length, ...total },
      );
    }),
  );
}

/** A session of the tenant by id or name; a name not taken yet becomes a new session (operators may). */
async function sessionOrCreate(warden: Warden, principal: McpPrincipal, idOrName: string) {
  const found = await warden.findSession(idOrName, principal.tenant);
  if (found && found.tenant === principal.tenant) return found;
  // An id of another tenant's session would otherwise become the name of a new session here: refused.
  if (UUID.test(idOrName))
    throw new WardenError('SESSION_NOT_FOUND', `No session ${idOrName}`, { details: { session: idOrName } });
  return warden.ensureSession({ name: idOrName, tenant: principal.tenant });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A task and its result (null while unfinished) as a tool result, with a one-line summary. */
function taskAnswer(task: Task, result: TaskResult | null, deduplicated?: boolean): CallToolResult {
  const head = `task ${task.id} (${task.agent}): ${result ? result.status : task.state}`;
  const detail = !result
    ? ''
    : result.error
      ? ` [${result.error.code}] ${result.error.message}`
      : result.output !== null
        ? `; output ${clip(JSON.stringify(result.output))}`
        : '';
  return toolOk(`${head}${detail}${result ? `; result at ${resultUri(task.id)}` : ''}`, {
    task,
    result,
    ...(deduplicated ? { deduplicated: true } : {}),
  });
}

function clip(text: string, max = 2000): string {
  return text.length <= max
    ? text
    : `${text.slice(0, max)}… (${text.length} chars; read the result resource)`;
}
