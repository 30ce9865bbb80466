import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWarden, sandboxWorks, tempDir } from '../helpers.js';
import { writeManifest } from './fixtures.js';

/** Two local servers: the agent's manifest allows only the first. */
let allowed: Server;
let denied: Server;
const portOf = (s: Server) => (s.address() as { port: number }).port;

beforeAll(async () => {
  allowed = createServer((_req, res) => res.end('hello from allowed'));
  denied = createServer((_req, res) => res.end('hello from denied'));
  await Promise.all([allowed, denied].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
});

afterAll(async () => {
  await Promise.all([allowed, denied].map((s) => new Promise((r) => s.close(r))));
});

/** Node agent: GET through the proxy (absolute URI and CONNECT), and a direct connection. */
const NODE_AGENT = `
import http from 'node:http';
import net from 'node:net';
const proxy = new URL(process.env.HTTP_PROXY);
const viaProxy = (port) => new Promise((resolve) => {
  const req = http.request({ host: proxy.hostname, port: proxy.port, path: 'http://127.0.0.1:' + port + '/' }, (res) => {
    let body = ''; res.on('data', (c) => (body += c)); res.on('end', () => resolve({ status: res.statusCode, body }));
  });
  req.on('error', (e) => resolve({ error: e.code })); req.end();
});
const viaConnect = (port) => new Promise((resolve) => {
  const req = http.request({ host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: '127.0.0.1:' + port });
  req.on('connect', (res, socket) => {
    if (res.statusCode !== 200) { socket.destroy(); return resolve({ status: res.statusCode }); }
    socket.write('GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n');
    let body = ''; socket.on('data', (c) => (body += c)); socket.on('end', () => resolve({ status: 200, body: body.split('\\r\\n\\r\\n')[1] }));
  });
  req.on('error', (e) => resolve({ error: e.code })); req.end();
});
const direct = (port) => new Promise((resolve) => {
  const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve({ connected: true }); });
  s.on('error', (e) => resolve({ error: e.code }));
});
const [a, d] = JSON.parse(await new Promise((r) => { let t = ''; process.stdin.on('data', (c) => (t += c)); process.stdin.on('end', () => r(t)); })).ports;
const out = {
  allowed: await viaProxy(a), denied: await viaProxy(d),
  allowedConnect: await viaConnect(a), deniedConnect: await viaConnect(d),
  directAllowed: await direct(a), directDenied: await direct(d),
};
process.stdout.write(JSON.stringify(out));
if (process.argv.includes('--fail-on-deny') && out.denied.status === 403) process.exit(1);
`;

/** Registers the node agent allowed to reach `allowed` and submits it to a session with the given switch. */
async function submitNetAgent(name: string, session: { name: string; allowNetwork: boolean }) {
  const dir = tempDir();
  const warden = await openWarden({ workers: { concurrency: 2, pollIntervalMs: 10 } });
  writeFileSync(join(dir, 'net.mjs'), NODE_AGENT);
  const path = writeManifest(dir, name, '1.0.0', {
    runtime: 'node',
    entry: './net.mjs',
    network: { allow: [`127.0.0.1:${portOf(allowed)}`] },
    retry: { maxAttempts: 1 },
  });
  const { key } = await warden.registerAgent({ path });
  await warden.ensureSession(session);
  const task = await warden.submit({
    agent: key,
    session: session.name,
    input: { ports: [portOf(allowed), portOf(denied)] },
  });
  return { warden, task };
}

describe.runIf(sandboxWorks('the network allow-list tests'))(
  'network allow-list (egress proxy outside the sandbox)',
  () => {
    it('reaches only the allowed server, through the proxy; direct connections fail', async () => {
      const { warden, task } = await submitNetAgent('net', { name: 'net', allowNetwork: true });
      const result = await warden.result(task.id, { timeoutMs: 15_000 });
      expect(result?.status, result?.error?.message).toBe('succeeded');
      expect(result?.output).toMatchObject({
        allowed: { status: 200, body: 'hello from allowed' },
        denied: { status: 403 },
        allowedConnect: { status: 200, body: 'hello from allowed' },
        deniedConnect: { status: 403 },
        directAllowed: { error: 'ECONNREFUSED' }, // its own network namespace: the host's 127.0.0.1 is not there
        directDenied: { error: 'ECONNREFUSED' },
      });
    });

    it('reports NETWORK_DENIED when an agent fails after a refused connection', async () => {
      const dir = tempDir();
      const warden = await openWarden({ workers: { concurrency: 2, pollIntervalMs: 10 } });
      writeFileSync(join(dir, 'net.mjs'), NODE_AGENT);
      const path = writeManifest(dir, 'netfail', '1.0.0', {
        runtime: 'node',
        entry: './net.mjs',
        args: ['--fail-on-deny'],
        network: { allow: [`127.0.0.1:${portOf(allowed)}`] },
        retry: { maxAttempts: 1 },
      });
      const { key } = await warden.registerAgent({ path });
      await warden.ensureSession({ name: 'net', allowNetwork: true });
      const task = await warden.submit({
        agent: key,
        session: 'net',
        input: { ports: [portOf(allowed), portOf(denied)] },
      });
      const result = await warden.result(task.id, { timeoutMs: 15_000 });
      expect(result?.error?.code).toBe('NETWORK_DENIED');
      expect(result?.error?.message).toContain(`127.0.0.1:${portOf(denied)}`);
    });

    it('python agents use the proxy through HTTP_PROXY (urllib)', async () => {
      const dir = tempDir();
      const warden = await openWarden({ workers: { concurrency: 2, pollIntervalMs: 10 } });
      writeFileSync(
        join(dir, 'net.py'),
        `import json, sys, urllib.request, urllib.error
ports = json.load(sys.stdin)["ports"]
out = {}
for name, port in zip(["allowed", "denied"], ports):
    try:
        out[name] = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
    except urllib.error.HTTPError as e:
        out[name] = e.code
json.dump(out, sys.stdout)
`,
      );
      const path = writeManifest(dir, 'pynet', '1.0.0', {
        runtime: 'python',
        entry: './net.py',
        network: { allow: [`127.0.0.1:${portOf(allowed)}`] },
        retry: { maxAttempts: 1 },
      });
      const { key } = await warden.registerAgent({ path });
      await warden.ensureSession({ name: 'net', allowNetwork: true });
      const task = await warden.submit({
        agent: key,
        session: 'net',
        input: { ports: [portOf(allowed), portOf(denied)] },
      });
      const result = await warden.result(task.id, { timeoutMs: 15_000 });
      expect(result?.status, result?.error?.message).toBe('succeeded');
      expect(result?.output).toEqual({ allowed: 'hello from allowed', denied: 403 });
    });

    it('opens nothing for a session that does not allow network, even when the manifest names hosts', async () => {
      const { warden, task } = await submitNetAgent('net-off', { name: 'offline', allowNetwork: false });
      const result = await warden.result(task.id, { timeoutMs: 15_000 });
      // No proxy is started (HTTP_PROXY is unset), so the agent cannot reach even the allowed server.
      expect(result?.status).toBe('dead');
      const logs = await warden.logs(task.id);
      expect(logs.some((l) => l.stream === 'event' && /does not allow network/.test(l.message))).toBe(true);
    });
  },
);
