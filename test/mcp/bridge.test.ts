import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, createApiKey } from '../../src/api/index.js';
import { Warden } from '../../src/index.js';
import { mcpEndpoint } from '../../src/mcp/index.js';
import { TOOL_NAMES, call, errorCode } from './flow.js';

// `warden mcp --server URL --key KEY`: a stdio MCP client → the CLI bridge (real process, dist/) → the
// real HTTP server's /mcp. The remote key's tenant and role apply.

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin', 'warden.js');

let warden: Warden;
let root: string;
let app: FastifyInstance;
let base: string;
const key = {} as Record<'operator' | 'viewer', string>;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'warden-mcp-bridge-'));
  warden = await Warden.open({ storage: { root }, workers: { concurrency: 2 } });
  await warden.registerHandler('upper', (input: unknown) => String(input).toUpperCase(), { tenant: 'acme' });
  app = await buildServer(warden, { logger: false, rateLimit: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  for (const role of ['operator', 'viewer'] as const)
    key[role] = (await createApiKey(warden.apiKeys, { tenant: 'acme', role, name: role })).key;
});

afterAll(async () => {
  await app.close();
  await warden.close();
  rmSync(root, { recursive: true, force: true });
});

let lastPid: number | undefined;
async function bridged(k: string): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, 'mcp', '--server', base, '--key', k],
    cwd: ROOT,
    stderr: 'pipe',
  });
  const client = new Client({ name: 'warden-test', version: '1.0.0' });
  await client.connect(transport);
  lastPid = transport.pid ?? undefined;
  return client;
}

describe('warden mcp --server (stdio bridged to Streamable HTTP)', () => {
  it('lists the tools and submits a task for the key’s tenant', async () => {
    const client = await bridged(key.operator);
    try {
      expect(client.getServerVersion()).toMatchObject({ name: 'warden' });
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
      const done = await call(client, 'submit_task', { agent: 'upper', input: 'bridged', wait: 20_000 });
      expect(done.structuredContent).toMatchObject({
        task: { state: 'succeeded' },
        result: { status: 'succeeded', output: 'BRIDGED' },
      });
      // It ran in acme's own session, created on the server for that key's tenant.
      const id = (done.structuredContent as { task: { id: string } }).task.id;
      const session = await warden.findSession((await warden.findTask(id))!.sessionId);
      expect(session).toMatchObject({ tenant: 'acme', name: 'default' });
      const result = await client.readResource({ uri: `warden://tasks/${id}/result` });
      expect(JSON.parse((result.contents[0] as { text: string }).text)).toMatchObject({ output: 'BRIDGED' });
    } finally {
      const started = Date.now();
      await client.close();
      // The bridge exits on its own when stdin ends (the SDK would send SIGTERM after 2 s).
      expect(Date.now() - started).toBeLessThan(2000);
      expect(() => process.kill(lastPid!, 0)).toThrow();
    }
  }, 60_000);

  it("a viewer key's role applies through the bridge; a wrong key fails the handshake with 401", async () => {
    const viewer = await bridged(key.viewer);
    try {
      expect(errorCode(await call(viewer, 'submit_task', { agent: 'upper', input: 'x' }))).toBe('FORBIDDEN');
      expect(errorCode(await call(viewer, 'get_task', { id: 'missing' }))).toBe('TASK_NOT_FOUND');
    } finally {
      await viewer.close();
    }
    const started = Date.now();
    await expect(bridged('wdn_not_a_key')).rejects.toThrow(/401|UNAUTHORIZED/);
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 60_000);

  it('mcpEndpoint appends /mcp and refuses what is not an http(s) URL', () => {
    expect(mcpEndpoint('http://h:8080').href).toBe('http://h:8080/mcp');
    expect(mcpEndpoint('https://h/base/').href).toBe('https://h/base/mcp');
    expect(mcpEndpoint('https://h/mcp').href).toBe('https://h/mcp');
    for (const bad of ['h:8080', 'ftp://h/', 'not a url'])
      expect(() => mcpEndpoint(bad)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });
});
