import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { describe, expect, it } from 'vitest';
import { Warden } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { call, submitReadVerify } from './flow.js';

// `warden mcp --data <dir>` as an MCP client launches it (Claude Desktop, an IDE): the real CLI from dist/
// (npm run build first), spoken to over its stdin/stdout by the SDK's own client.

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin', 'warden.js');

/** A data directory with the WAT echo agent registered (it needs no sandbox: WASM runs in process). */
async function dataWithEcho(): Promise<string> {
  const root = tempDir();
  const warden = await Warden.open({ storage: { root } });
  await warden.registerAgent({ path: join(ROOT, 'examples/wasm-wat/agent.yaml') });
  await warden.close();
  return root;
}

describe('warden mcp over stdio', () => {
  it('lists tools, runs a task, reads its result and a verifying bundle; exits when stdin ends', async () => {
    const root = await dataWithEcho();
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, '--data', root, 'mcp'],
      cwd: ROOT,
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const client = new Client({ name: 'warden-test', version: '1.0.0' });
    // Anything but protocol on stdout would show here as a parse error.
    const protocolErrors: Error[] = [];
    client.onerror = (e) => protocolErrors.push(e);
    await client.connect(transport);
    expect(client.getServerVersion()).toMatchObject({ name: 'warden' });

    const { taskId } = await submitReadVerify(client, 'wasm-wat', (input) => ({ echo: input }));
    const verified = await call(client, 'verify_session');
    expect(verified.isError ?? false).toBe(false);
    expect(verified.structuredContent).toMatchObject({ session: 'default', ok: expect.any(Boolean) });
    expect(verified.structuredContent).not.toHaveProperty('broken');
    const agents = await call(client, 'list_agents');
    expect(agents.structuredContent).toMatchObject({ agents: [{ key: 'wasm-wat@1.0.0', runtime: 'wasm' }] });
    // Cancelling a finished task changes nothing and says so.
    const cancelled = await call(client, 'cancel_task', { id: taskId });
    expect(cancelled.structuredContent).toMatchObject({ taskId, state: 'succeeded', cancelledNow: false });
    expect(protocolErrors).toEqual([]);

    const pid = transport.pid!;
    const started = Date.now();
    await client.close();
    // It exited on its own when stdin ended (the SDK sends SIGTERM only after 2 s).
    expect(Date.now() - started).toBeLessThan(2000);
    expect(() => process.kill(pid, 0)).toThrow();
    expect(stderr).not.toMatch(/INTERNAL|Error:/);
  }, 60_000);

  it('garbage on stdin is skipped: the next message is still answered', async () => {
    const root = await dataWithEcho();
    const child = spawn(process.execPath, [BIN, '--data', root, 'mcp'], { cwd: ROOT, stdio: 'pipe' });
    const lines = createInterface({ input: child.stdout });
    const answers: unknown[] = [];
    lines.on('line', (l) => answers.push(JSON.parse(l)));
    child.stdin.write('this is not json\n{"jsonrpc":"2.0","id":"x","method":"nope"}\n[1,2,\n');
    child.stdin.write(
      `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } })}\n`,
    );
    const until = Date.now() + 20_000;
    while (!answers.some((a) => (a as { id?: unknown }).id === 1) && Date.now() < until)
      await new Promise((r) => setTimeout(r, 50));
    expect(answers).toContainEqual(
      expect.objectContaining({ id: 'x', error: expect.objectContaining({ code: -32601 }) }),
    );
    expect(answers).toContainEqual(
      expect.objectContaining({
        id: 1,
        result: expect.objectContaining({ serverInfo: expect.objectContaining({ name: 'warden' }) }),
      }),
    );
    child.stdin.end();
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  }, 60_000);
});
