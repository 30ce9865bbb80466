import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, createApiKey } from '../src/api/index.js';
import { Warden } from '../src/index.js';

const ROOT = new URL('..', import.meta.url).pathname;
const EXAMPLES = join(ROOT, 'examples', 'rd');

let warden: Warden;
let root: string;
let app: FastifyInstance;
let operator: string;
let viewer: string;

/** A random connected graph as in docs/rd.md's benchmark: a tree plus Erdős–Rényi edges, 2-d features. */
function randomGraph(
  n: number,
  seed: number,
): { nodes: number; edges: [number, number][]; features: number[][] } {
  let s = seed;
  const rnd = (): number => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const edges: [number, number][] = [];
  for (let i = 1; i < n; i++) edges.push([Math.floor(rnd() * i), i]);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (rnd() < 4 / n) edges.push([i, j]);
  return { nodes: n, edges, features: Array.from({ length: n }, () => [rnd(), rnd()]) };
}

/** The request: two 150-node graphs and a tiny epsilon (about 2 s per outer iteration here). */
const heavy = (maxIter: number) => ({
  a: randomGraph(150, 1),
  b: randomGraph(150, 2),
  epsilon: 1e-4,
  maxIter,
});

function post(server: FastifyInstance, body: unknown, key = operator) {
  return server.inject({
    method: 'POST',
    url: '/rd/fgw',
    headers: { authorization: `Bearer ${key}` },
    payload: body as object,
  });
}

/**
 * Polls GET {argv[1]}/health every 100 ms until its stdin closes; prints 'ready' after a first call, then the
 * latencies (ms) as JSON. Polling until told to stop (not for a fixed time) keeps every probe inside the solve
 * however fast the machine is.
 */
const PROBE = `
const [base] = process.argv.slice(1);
const latencies = [];
let stop = false;
process.stdin.on('end', () => (stop = true)).resume();
await (await fetch(base + '/health')).text(); // warm up the connection and the route
console.log('ready');
while (!stop) {
  const t = performance.now();
  await (await fetch(base + '/health')).text();
  latencies.push(Math.round(performance.now() - t));
  await new Promise((r) => setTimeout(r, 100));
}
console.log(JSON.stringify(latencies));
`;

/** The real CLI from the sources, in a child process. */
function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const script =
    "const { main } = await import('./src/cli/index.ts'); process.exitCode = await main(['node', 'warden', ...process.argv.slice(1)]);";
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script, ...args],
      { cwd: ROOT, timeout: 60_000, encoding: 'utf8' },
      (err, stdout, stderr) =>
        done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'warden-rd-api-'));
  warden = await Warden.open({ storage: { root } });
  app = await buildServer(warden, { logger: false, rateLimit: false, rd: { budgetMs: 60_000 } });
  operator = (await createApiKey(warden.store, { tenant: 't', role: 'operator', name: 'op' })).key;
  viewer = (await createApiKey(warden.store, { tenant: 't', role: 'viewer', name: 'v' })).key;
});

afterAll(async () => {
  await app.close();
  await warden.close();
  rmSync(root, { recursive: true, force: true });
});

describe('POST /rd/fgw is kept off the event loop', () => {
  it('a viewer key gets 403: FGW is a cost-heavy route for operators', async () => {
    const res = await post(
      app,
      { a: { nodes: 2, edges: [[0, 1]] }, b: { nodes: 2, edges: [[0, 1]] } },
      viewer,
    );
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
  });

  it('while a heavy request runs, /health answers within a small bound', async () => {
    // A client in another process polls /health over real HTTP while this process posts the heavy request.
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    const probe = spawn(process.execPath, ['--input-type=module', '-e', PROBE, base], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => probe.once('exit', resolve));
    let out = '';
    probe.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    await new Promise<void>((resolve) => probe.stdout.once('data', () => resolve())); // 'ready'
    const started = performance.now();
    const res = await fetch(`${base}/rd/fgw`, {
      method: 'POST',
      headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
      body: JSON.stringify(heavy(2)),
    });
    const took = performance.now() - started;
    probe.stdin.end();
    await exited;
    const latencies = JSON.parse(out.slice(out.indexOf('\n') + 1)) as number[];
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ solver: 'entropic', iterations: 2 });
    // Every probe ran while the solve did; enough of them to have seen a blocked loop (the solve takes
    // seconds on the event loop without the pool).
    expect(latencies.length, `solve took ${Math.round(took)} ms`).toBeGreaterThan(3);
    expect(Math.max(...latencies), `health latencies: ${latencies.join(', ')} ms`).toBeLessThan(500);
  }, 120_000);

  it('enforces the time budget: the worker is stopped, the error is coded, the next request is served', async () => {
    const budgeted = await buildServer(warden, { logger: false, rateLimit: false, rd: { budgetMs: 1000 } });
    try {
      const started = performance.now();
      const res = await post(budgeted, heavy(5)); // about 10 s of work
      const took = performance.now() - started;
      expect(res.statusCode, res.body.slice(0, 300)).toBe(422);
      expect(res.json()).toMatchObject({ error: { code: 'RD_BUDGET_EXCEEDED' } });
      expect(took).toBeLessThan(5000);
      const small = await post(budgeted, {
        a: { nodes: 2, edges: [[0, 1]] },
        b: { nodes: 2, edges: [[0, 1]] },
      });
      expect(small.statusCode, small.body).toBe(200);
    } finally {
      await budgeted.close();
    }
  }, 60_000);

  it('a full pool and queue answer 503 RD_BUSY with Retry-After instead of piling up work', async () => {
    const tiny = await buildServer(warden, {
      logger: false,
      rateLimit: false,
      rd: { workers: 1, maxQueue: 1, budgetMs: 1500 },
    });
    try {
      const burst = await Promise.all(Array.from({ length: 4 }, () => post(tiny, heavy(1000))));
      const codes = burst.map((r) => r.statusCode).sort();
      expect(codes).toEqual([422, 422, 503, 503]);
      const busy = burst.find((r) => r.statusCode === 503)!;
      expect(busy.json()).toMatchObject({ error: { code: 'RD_BUSY' } });
      expect(busy.headers['retry-after']).toBeDefined();
    } finally {
      await tiny.close();
    }
  }, 60_000);

  it('refuses graphs over the size limits with a coded 400 before any work', async () => {
    const big = { nodes: 401, edges: Array.from({ length: 400 }, (_, i) => [i, i + 1]) };
    const res = await post(app, { a: big, b: { nodes: 2, edges: [[0, 1]] } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'RD_INVALID_GRAPH' } });
    expect(res.json<{ error: { message: string } }>().error.message).toMatch(/at most 400 nodes/);
    const structure = Array.from({ length: 401 }, (_, i) =>
      Array.from({ length: 401 }, (_, j) => (i === j ? 0 : 1)),
    );
    const dense = await post(app, { a: { structure }, b: { nodes: 2, edges: [[0, 1]] } });
    expect(dense.statusCode).toBe(400);
    expect(dense.json()).toMatchObject({ error: { code: 'RD_INVALID_GRAPH' } });
  });
});

describe('the API and the CLI accept the same graph files', () => {
  const files = readdirSync(EXAMPLES).filter((f) => f.startsWith('plan-'));

  it('the example graphs give the same result through `warden rd fgw` and POST /rd/fgw', async () => {
    expect(files).toEqual(['plan-a.json', 'plan-b.json']);
    const [a, b] = files.map((f) => JSON.parse(readFileSync(join(EXAMPLES, f), 'utf8')) as unknown);
    const run = await cli(
      'rd',
      'fgw',
      join(EXAMPLES, 'plan-a.json'),
      join(EXAMPLES, 'plan-b.json'),
      '--json',
    );
    expect(run.code, run.stderr).toBe(0);
    const fromCli = JSON.parse(run.stdout) as { distance: number; coupling: number[][]; iterations: number };
    const res = await post(app, { a, b });
    expect(res.statusCode, res.body).toBe(200);
    const fromApi = res.json<{ distance: number; coupling: number[][]; iterations: number }>();
    expect(fromApi.distance).toBe(fromCli.distance);
    expect(fromApi.iterations).toBe(fromCli.iterations);
    expect(fromApi.coupling).toEqual(fromCli.coupling);
  }, 120_000);

  it('a graph both refuse gets the same code from both', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warden-rd-bad-'));
    try {
      const bad = { nodes: 3, edges: [[0, 5]], description: 'edge to a node that does not exist' };
      const path = join(dir, 'bad.json');
      await import('node:fs/promises').then((fs) => fs.writeFile(path, JSON.stringify(bad)));
      const run = await cli('rd', 'fgw', path, path);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/RD_INVALID_GRAPH/);
      const res = await post(app, { a: bad, b: bad });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: 'RD_INVALID_GRAPH' } });
      const typed = await post(app, { a: { nodes: 2, edges: [['0', 1]] }, b: bad });
      expect(typed.json()).toMatchObject({ error: { code: 'RD_INVALID_GRAPH' } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
