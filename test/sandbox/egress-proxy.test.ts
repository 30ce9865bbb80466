import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EgressProxy, isConnectableHost } from '../../src/sandbox/process/egress-proxy.js';
import { tempDir } from '../helpers.js';

// The proxy alone, over its Unix socket, as an agent inside the sandbox reaches it (no sandbox needed).
let upstream: Server;
let port = 0;

beforeAll(async () => {
  upstream = createServer((s) => s.end('reached'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  port = (upstream.address() as { port: number }).port;
});
afterAll(() => new Promise((r) => upstream.close(r)));

/** Sends a raw CONNECT line and returns the status line and what the upstream said. */
async function connectThrough(proxy: EgressProxy, target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(proxy.socketPath, () => s.write(`CONNECT ${target} HTTP/1.1\r\n\r\n`));
    let text = '';
    s.on('data', (c) => (text += c.toString('latin1')));
    s.on('end', () => resolve(text));
    s.on('error', reject);
  });
}

describe('egress proxy host checks', () => {
  it('refuses a host that hides another one behind a NUL byte or control characters', async () => {
    const proxy = new EgressProxy(join(tempDir(), 'egress.sock'), [
      `*.example.com:${port}`,
      `localhost:${port}`,
    ]);
    await proxy.listen();
    try {
      for (const host of ['127.0.0.1\0.example.com', 'localhost\0.example.com', 'localhost\t.example.com']) {
        const reply = await connectThrough(proxy, `${host}:${port}`);
        expect(reply, JSON.stringify(host)).toMatch(/^HTTP\/1\.1 403/);
        expect(reply).not.toContain('reached');
      }
      // The same proxy still connects where the list allows.
      expect(await connectThrough(proxy, `localhost:${port}`)).toMatch(/^HTTP\/1\.1 200[^]*reached$/);
      expect(proxy.denials.map((d) => d.host)).toContain('127.0.0.1\0.example.com');
    } finally {
      await proxy.close();
    }
  });

  it('takes IP literals and DNS names, and nothing else', () => {
    for (const ok of ['127.0.0.1', '::1', 'api.example.com', 'my_host-1.internal', 'localhost'])
      expect(isConnectableHost(ok), ok).toBe(true);
    for (const bad of ['', 'a\0b', 'a b', 'a..b', '-a.com', 'a.com.', 'x'.repeat(254), 'ex%61mple.com'])
      expect(isConnectableHost(bad), JSON.stringify(bad)).toBe(false);
  });
});
