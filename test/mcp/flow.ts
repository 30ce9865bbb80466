import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { expect } from 'vitest';
import { verifyBundleText } from '../../src/provenance/index.js';

export const TOOL_NAMES = [
  'submit_task',
  'get_task',
  'cancel_task',
  'list_agents',
  'verify_session',
  'export_provenance',
  'governance_stats',
];

/** Calls a tool and returns its result as a CallToolResult (the SDK's type is a union with task results). */
export async function call(client: Client, name: string, args: Record<string, unknown> = {}) {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

/** The code of a tool error: the structured `error.code`, which the text `error [CODE]: …` repeats. */
export function errorCode(result: CallToolResult): string | undefined {
  expect(result.isError).toBe(true);
  const code = (result.structuredContent as { error?: { code?: string } } | undefined)?.error?.code;
  const text = result.content[0]?.type === 'text' ? result.content[0].text : '';
  expect(text).toContain(`error [${code}]`);
  return code;
}

/**
 * The common flow over any transport: the 7 tools are listed; `agent` runs with submit_task + wait and
 * echoes its input; get_task and the result resource show the same result; the session's bundle, from
 * export_provenance and from its resource, verifies offline; bad input is a coded tool error.
 */
export async function submitReadVerify(
  client: Client,
  agent: string,
  expectOutput: (input: unknown) => unknown,
): Promise<{ taskId: string; sessionId: string }> {
  const { tools } = await client.listTools();
  expect(tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
  const submit = tools.find((t) => t.name === 'submit_task')!;
  expect(submit.inputSchema.properties).toHaveProperty('wait');

  const input = { words: ['provenance', 'is', 'proof'] };
  const submitted = await call(client, 'submit_task', { agent, input, wait: 20_000 });
  expect(submitted.isError ?? false).toBe(false);
  const s = submitted.structuredContent as {
    task: { id: string; state: string; sessionId: string };
    result: { status: string; output: unknown } | null;
  };
  expect(s.task.state).toBe('succeeded');
  expect(s.result?.status).toBe('succeeded');
  expect(s.result?.output).toEqual(expectOutput(input));

  const got = await call(client, 'get_task', { id: s.task.id });
  expect(got.isError ?? false).toBe(false);
  expect((got.structuredContent as { result: { output: unknown } }).result.output).toEqual(
    expectOutput(input),
  );

  const resource = await client.readResource({ uri: `warden://tasks/${s.task.id}/result` });
  const first = resource.contents[0] as { text: string; mimeType?: string };
  expect(first.mimeType).toBe('application/json');
  expect(JSON.parse(first.text)).toMatchObject({ taskId: s.task.id, status: 'succeeded' });

  const exported = await call(client, 'export_provenance', { session: 'default' });
  expect(exported.isError ?? false).toBe(false);
  const summary = exported.structuredContent as { treeSize: number; records: number; uri: string };
  expect(summary.records).toBeGreaterThan(0);
  const embedded = exported.content.find((c) => c.type === 'resource');
  expect(embedded?.type).toBe('resource');
  const embeddedText = (embedded as { resource: { text: string } }).resource.text;
  expect(verifyBundleText(embeddedText)).toMatchObject({ ok: true, problems: [] });

  const bundle = await client.readResource({ uri: summary.uri });
  const bundleText = (bundle.contents[0] as { text: string }).text;
  const verified = verifyBundleText(bundleText);
  expect(verified).toMatchObject({ ok: true, problems: [] });
  expect(verified.statements).toBeGreaterThanOrEqual(1);

  // Bad input, three ways: the schema refuses it (SDK validation), Warden refuses it, an unknown id.
  expect(errorCode(await call(client, 'submit_task', { agent, priority: 'urgent' }))).toBe('INVALID_INPUT');
  expect(errorCode(await call(client, 'submit_task', { agent, intent: 'echo this' }))).toBe('INVALID_INPUT');
  expect(errorCode(await call(client, 'submit_task', { agent: 'no-such-agent' }))).toBe('AGENT_NOT_FOUND');
  expect(errorCode(await call(client, 'get_task', { id: 'no-such-task' }))).toBe('TASK_NOT_FOUND');
  await expect(client.readResource({ uri: 'warden://tasks/no-such-task/result' })).rejects.toThrow(
    /TASK_NOT_FOUND/,
  );
  return { taskId: s.task.id, sessionId: s.task.sessionId };
}
