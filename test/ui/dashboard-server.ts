import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// A real `warden serve` (the built CLI in dist/) on loopback, for the dashboard's browser tests: keys for
// each role and a second tenant, and agents registered over the API as a user would.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/warden.js');

export interface DashboardServer {
  url: string;
  dataDir: string;
  keys: { admin: string; operator: string; viewer: string; otherTenant: string };
  /** JSON request with a key (admin by default); throws on a non-2xx answer. */
  api<T = unknown>(method: string, path: string, body?: unknown, key?: string): Promise<T>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

function cliKey(dataDir: string, role: string, tenant: string): string {
  const out = spawnSync(
    process.execPath,
    [
      BIN,
      '--data',
      dataDir,
      '--json',
      'keys',
      'create',
      '--role',
      role,
      '--tenant',
      tenant,
      '--name',
      `e2e ${role}`,
    ],
    { encoding: 'utf8' },
  );
  if (out.status !== 0) throw new Error(`warden keys create failed: ${out.stderr}`);
  return (JSON.parse(out.stdout) as { key: string }).key;
}

export async function startDashboardServer(): Promise<DashboardServer> {
  if (!existsSync(join(ROOT, 'dist/ui/index.html')))
    throw new Error('dist/ui is missing: run `npm run build:ui` (npm test does it in pretest)');
  const dataDir = mkdtempSync(join(tmpdir(), 'warden-ui-'));
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [BIN, '--data', dataDir, 'serve', '--bind', `127.0.0.1:${port}`, '--no-examples', '--concurrency', '4'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, WARDEN_LOG_LEVEL: 'warn' } },
  );
  let stderr = '';
  const admin = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`warden serve did not start:\n${stderr}`)), 20_000);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      const key = /^\s+(wdn_\S+)\s*$/m.exec(stderr);
      if (key && stderr.includes('listening on')) {
        clearTimeout(timer);
        resolve(key[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`warden serve exited with ${code}:\n${stderr}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  const keys = {
    admin,
    operator: cliKey(dataDir, 'operator', 'default'),
    viewer: cliKey(dataDir, 'viewer', 'default'),
    otherTenant: cliKey(dataDir, 'admin', 'acme'),
  };
  const api = async <T>(method: string, path: string, body?: unknown, key = admin): Promise<T> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  return {
    url,
    dataDir,
    keys,
    api,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => {
          const t = setTimeout(() => (child.kill('SIGKILL'), r(undefined)), 10_000);
          child.once('exit', () => (clearTimeout(t), r(undefined)));
        });
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A node agent registered over the API: `main` is its main.js source. */
export async function registerNodeAgent(
  server: DashboardServer,
  name: string,
  main: string,
  extra: { maxAttempts?: number; timeoutMs?: number; capabilities?: string[] } = {},
): Promise<void> {
  const manifest = [
    'apiVersion: warden.dev/v1',
    'kind: Agent',
    'metadata:',
    `  name: ${name}`,
    '  version: 1.0.0',
    `  description: 'Dashboard test agent ${name}'`,
    'spec:',
    '  runtime: node',
    '  entry: ./main.js',
    ...(extra.capabilities ? [`  capabilities: [${extra.capabilities.join(', ')}]`] : []),
    `  resources: { timeoutMs: ${extra.timeoutMs ?? 20000}, memoryMb: 128, maxOutputBytes: 65536 }`,
    ...(extra.maxAttempts ? ['  retry:', `    maxAttempts: ${extra.maxAttempts}`] : []),
    '',
  ].join('\n');
  await server.api('POST', '/agents', {
    manifest,
    files: { 'main.js': Buffer.from(main).toString('base64') },
  });
}

/** Chromium for the browser tests: Debian's, or CHROMIUM_PATH. */
export function chromiumPath(): string | undefined {
  const candidates = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((p): p is string => !!p && existsSync(p));
}
