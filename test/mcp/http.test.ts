import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, createApiKey } from '../../src/api/index.js';
import { Warden } from '../../src/index.js';
import { call, errorCode, submitReadVerify } from './flow.js';

// Streamable HTTP at /mcp on the real server: the same keys as the REST API, each request acting for its
// key's tenant and role. Tenant A (acme) has a private agent and a task; tenant B (globex) must see none
// of it, and an id of A's must read exactly like an id that does not exist.

let warden: Warden;
let root: string;
let app: FastifyInstance;
let base: string;
const key = {} as Record<'admin' | 'operator' | 'viewer' | 'other', string>;
let taskId = '';

const clients: Client[] = [];
async function connect(k: string | undefined): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
    requestInit: { headers: k ? { authorization: `Bearer ${k}` } : {} },
  });
  const client = new Client({ name: 'warden-test', version: '1.0.0' });
  await client.connect(transport);
  clients.push(client);
  return client;
}

beforeAll(async () => {
  // One Warden for the whole file (test/helpers' openWarden closes after each test).
  root = mkdtempSync(join(tmpdir(), 'warden-mcp-http-'));
  warden = await Warden.open({ storage: { root }, workers: { concurrency: 4 } });
  // Tenant acme's own agent: an echo in this process.
  await warden.registerHandler('secret-echo', (input: unknown) => ({ echo: input }), {
    tenant: 'acme',
    description: 'acme private echo',
  });
  app = await buildServer(warden, { logger: false, rateLimit: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  for (const role of ['admin', 'operator', 'viewer'] as const)
    key[role] = (await createApiKey(warden.apiKeys, { tenant: 'acme', role, name: `acme-${role}` })).key;
  key.other = (await createApiKey(warden.apiKeys, { tenant: 'globex', role: 'admin', name: 'globex' })).key;
});

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  const started = Date.now();
  await app.close();
  // Closing the server must not hang on MCP requests (each one is its own short-lived transport).
  expect(Date.now() - started).toBeLessThan(5000);
  await warden.close();
  rmSync(root, { recursive: true, force: true });
});

describe('MCP over Streamable HTTP', () => {
  it('an operator key lists tools, submits, reads the result and a verifying provenance bundle', async () => {
    const client = await connect(key.operator);
    ({ taskId } = await submitReadVerify(client, 'secret-echo', (input) => ({ echo: input })));
    const logs = await client.readResource({ uri: `warden://tasks/${taskId}/logs` });
    expect(logs.contents[0]).toMatchObject({ mimeType: 'text/plain' });
    const verified = await call(client, 'verify_session', { session: 'default' });
    expect(verified.structuredContent).toMatchObject({ session: 'default', length: expect.any(Number) });
    const listed = await client.listResources();
    expect(listed.resources.map((r) => r.uri)).toContain(`warden://tasks/${taskId}/result`);
    const stats = await call(client, 'governance_stats');
    expect(stats.structuredContent).toMatchObject({ total: expect.any(Number), sessions: 1 });
  });

  it('without a key, or with an unknown one, /mcp answers 401 with a coded error', async () => {
    const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: {} };
    for (const headers of [{}, { authorization: 'Bearer wdn_nope' }] as Record<string, string>[]) {
      const res = await fetch(`${base}/mcp`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...headers,
        },
        body: JSON.stringify(init),
      });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
    }
    await expect(connect(undefined)).rejects.toThrow(/401|UNAUTHORIZED/);
  });

  it('GET and DELETE answer 405: the endpoint is stateless', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(`${base}/mcp`, { method, headers: { authorization: `Bearer ${key.viewer}` } });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
    }
  });

  it('a viewer key reads but may not submit or cancel (FORBIDDEN)', async () => {
    const client = await connect(key.viewer);
    expect(errorCode(await call(client, 'submit_task', { agent: 'secret-echo', input: 1 }))).toBe(
      'FORBIDDEN',
    );
    expect(errorCode(await call(client, 'cancel_task', { id: taskId }))).toBe('FORBIDDEN');
    const got = await call(client, 'get_task', { id: taskId });
    expect(got.isError ?? false).toBe(false);
    expect(got.structuredContent).toMatchObject({ task: { id: taskId, state: 'succeeded' } });
    // Nothing was submitted by the refused call.
    expect((await warden.listTasks({ tenant: 'acme' })).length).toBe(1);
  });

  it("another tenant's key sees none of it: A's ids read exactly like missing ones", async () => {
    const client = await connect(key.other);
    const missing = await call(client, 'get_task', { id: '00000000-0000-7000-8000-000000000000' });
    const foreign = await call(client, 'get_task', { id: taskId });
    expect(errorCode(foreign)).toBe('TASK_NOT_FOUND');
    expect(foreign.structuredContent).toEqual(
      JSON.parse(
        JSON.stringify(missing.structuredContent).replaceAll('00000000-0000-7000-8000-000000000000', taskId),
      ),
    );
    expect(errorCode(await call(client, 'cancel_task', { id: taskId }))).toBe('TASK_NOT_FOUND');
    for (const uri of [`warden://tasks/${taskId}/result`, `warden://tasks/${taskId}/logs`])
      await expect(client.readResource({ uri })).rejects.toThrow(/TASK_NOT_FOUND/);

    const agents = await call(client, 'list_agents');
    const keys = (agents.structuredContent as { agents: { key: string }[] }).agents.map((a) => a.key);
    expect(keys.some((k) => k.includes('secret-echo'))).toBe(false);
    expect(errorCode(await call(client, 'submit_task', { agent: 'secret-echo', input: 1 }))).toBe(
      'AGENT_NOT_FOUND',
    );

    // acme's session, by its id: not found (and not a new session of globex named after it).
    const sessionId = (await warden.findTask(taskId))!.sessionId;
    for (const session of [sessionId])
      for (const tool of ['export_provenance', 'verify_session', 'governance_stats'])
        expect(errorCode(await call(client, tool, { session }))).toBe('SESSION_NOT_FOUND');
    await expect(client.readResource({ uri: `warden://sessions/${sessionId}/provenance` })).rejects.toThrow(
      /SESSION_NOT_FOUND/,
    );
    expect(errorCode(await call(client, 'submit_task', { agent: 'ok', session: sessionId }))).toBe(
      'SESSION_NOT_FOUND',
    );
    const listed = await client.listResources();
    expect(listed.resources.some((r) => r.uri.includes(taskId))).toBe(false);
    // acme's task is untouched.
    expect((await warden.findTask(taskId))!.state).toBe('succeeded');
  });

  it('hostile bodies get coded errors and the server keeps answering', async () => {
    const post = (body: string) =>
      fetch(`${base}/mcp`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${key.operator}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body,
      });
    expect((await post('{not json')).status).toBe(400);
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const call5000 = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"submit_task","arguments":{"agent":"secret-echo","input":${deep}}}}`;
    expect((await post(call5000)).status).toBe(400);
    const client = await connect(key.operator);
    const huge = await call(client, 'submit_task', { agent: 'secret-echo', input: 'x'.repeat(1_500_000) });
    expect(['INPUT_TOO_LARGE', 'PAYLOAD_TOO_LARGE']).toContain(errorCode(huge));
    expect(errorCode(await call(client, 'get_task', { id: 'x'.repeat(500) }))).toBe('INVALID_INPUT');
    expect(errorCode(await call(client, 'no_such_tool'))).toBe('INVALID_INPUT');
    expect((await client.listTools()).tools).toHaveLength(7);
  });

  it('closing the server does not wait for a submit_task that is still waiting', async () => {
    let release = () => undefined as void;
    const gate = new Promise<void>((r) => (release = r));
    await warden.registerHandler('gated', async () => gate.then(() => 'done'), { tenant: 'acme' });
    const app2 = await buildServer(warden, { logger: false, rateLimit: false });
    await app2.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app2.server.address() as AddressInfo).port}/mcp`;
    const client = new Client({ name: 'warden-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(url), {
        requestInit: { headers: { authorization: `Bearer ${key.operator}` } },
      }),
    );
    const pending = call(client, 'submit_task', { agent: 'gated', wait: 60_000 }).catch((e: unknown) => e);
    const until = Date.now() + 10_000;
    while (!(await warden.listTasks({ tenant: 'acme', state: 'running' })).length && Date.now() < until)
      await new Promise((r) => setTimeout(r, 20));
    const started = Date.now();
    await app2.close();
    expect(Date.now() - started).toBeLessThan(3000);
    await pending;
    release();
    await client.close().catch(() => undefined);
  });
});
