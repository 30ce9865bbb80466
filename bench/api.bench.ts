// HTTP API figures: GET /health against a bare fastify hello-world in the same run, and
// POST /sessions/:id/execute?wait with a no-op agent. The load comes from a separate process (bench/lib/load.mjs).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { buildServer, createApiKey } from '../src/api/index.js';
import { Warden } from '../src/index.js';

const LOAD = new URL('./lib/load.mjs', import.meta.url).pathname;

interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

function load(cfg: {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
  durationMs: number;
  concurrency: number;
}): Promise<LoadResult> {
  // Async so the server in this process keeps serving while the child runs.
  return new Promise((resolve, reject) => {
    import('node:child_process')
      .then(({ execFile }) =>
        execFile(process.execPath, [LOAD, JSON.stringify(cfg)], (err, stdout) =>
          err ? reject(err) : resolve(JSON.parse(stdout) as LoadResult),
        ),
      )
      .catch(reject);
  });
}

function emit(name: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ name, value: Number(value.toFixed(3)), unit, ...extra })}\n`);
}

const root = mkdtempSync(join(tmpdir(), 'warden-api-bench-'));
try {
  execFileSync(process.execPath, ['-e', '0']); // warm the process spawn path
  const bare = Fastify({ logger: false });
  bare.get('/health', async () => ({ status: 'ok' }));
  const bareUrl = await bare.listen({ port: 0, host: '127.0.0.1' });

  const warden = await Warden.open({ storage: { root }, workers: { concurrency: 32 } });
  await warden.registerHandler('noop', () => null);
  const app = await buildServer(warden, { logger: false, rateLimit: false });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const { key } = await createApiKey(warden.store, { tenant: 'default', role: 'operator', name: 'bench' });
  const auth = { authorization: `Bearer ${key}` };

  const bareRun = await load({ url: `${bareUrl}/health`, durationMs: 4000, concurrency: 32 });
  const healthRun = await load({ url: `${url}/health`, durationMs: 4000, concurrency: 32 });
  emit('api bare fastify hello-world', bareRun.rps, 'req/s');
  emit('api GET /health', healthRun.rps, 'req/s', { errors: healthRun.errors });
  emit('api GET /health vs bare fastify', healthRun.rps / bareRun.rps, 'ratio');

  const execute = {
    url: `${url}/sessions/default/execute?wait=5000`,
    method: 'POST',
    headers: auth,
    body: { agent: 'noop', input: { n: 1 } },
  };
  const light = await load({ ...execute, durationMs: 4000, concurrency: 1 });
  emit('api execute?wait no-op latency p50 (light load)', light.p50, 'ms', { errors: light.errors });
  emit('api execute?wait no-op latency p99 (light load)', light.p99, 'ms');
  const busy = await load({ ...execute, durationMs: 4000, concurrency: 32 });
  emit('api execute?wait no-op throughput (32 clients)', busy.rps, 'req/s', {
    errors: busy.errors,
    p50: busy.p50,
    p99: busy.p99,
  });

  await app.close();
  await bare.close();
  await warden.close();
} finally {
  rmSync(root, { recursive: true, force: true });
}
