import fc from 'fast-check';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, createApiKey } from '../src/api/index.js';
import { defaultOperationId, defaultTag } from '../src/api/openapi.js';
import { WardenError, type Warden } from '../src/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Warden as WardenClass } from '../src/index.js';
import { eventually, sandboxWorks } from './helpers.js';

let warden: Warden;
let root: string;
let app: FastifyInstance;
const key: Record<string, string> = {};
const ids: Record<string, string> = {};

const ECHO_YAML = `apiVersion: warden.dev/v1
kind: Agent
metadata: { name: uploaded, version: 1.0.0 }
spec:
  runtime: node
  entry: ./main.js
`;
const ECHO_JS = Buffer.from("process.stdin.on('data', (d) => process.stdout.write(d));").toString('base64');

function call(
  method: string,
  url: string,
  who: string | undefined,
  body?: unknown,
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: method as 'GET',
    url,
    headers: who ? { authorization: `Bearer ${key[who]}` } : {},
    ...(body === undefined ? {} : { payload: body as object }),
  });
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'warden-api-'));
  warden = await WardenClass.open({ storage: { root }, workers: { concurrency: 8 } });
  // Installation-wide handlers: shared, so both tenants' sessions may run them.
  await warden.registerHandler('noop', (input: unknown) => ({ got: input }), { shared: true });
  // acme's own agent: its breaker is acme's to reset.
  await warden.registerHandler('acme-noop', () => null, { tenant: 'acme' });
  await warden.registerHandler(
    'poison',
    () => {
      throw new Error('always fails');
    },
    { retry: { maxAttempts: 1 }, shared: true },
  );
  app = await buildServer(warden, { logger: false, rateLimit: false });
  for (const [name, tenant, role] of [
    ['adminA', 'acme', 'admin'],
    ['operatorA', 'acme', 'operator'],
    ['viewerA', 'acme', 'viewer'],
    ['adminB', 'globex', 'admin'],
  ] as const) {
    key[name] = (await createApiKey(warden.store, { tenant, role, name })).key;
  }
  key['installation'] = (
    await createApiKey(warden.store, { tenant: 'default', role: 'admin', name: 'ops', installation: true })
  ).key;
  ids['sessionA'] = (
    await call('POST', '/sessions', 'operatorA', { name: 'research', maxConcurrency: 4 })
  ).json<{ id: string }>().id;
  ids['sessionB'] = (await call('POST', '/sessions', 'adminB', { name: 'research' })).json<{
    id: string;
  }>().id;
  const a = await call('POST', `/sessions/research/execute?wait=5000`, 'operatorA', {
    agent: 'noop',
    input: { n: 1 },
  });
  ids['taskA'] = a.json<{ task: { id: string } }>().task.id;
  const b = await call('POST', `/sessions/research/execute?wait=5000`, 'adminB', { agent: 'poison' });
  ids['deadB'] = b.json<{ task: { id: string } }>().task.id;
  const deadA = await call('POST', `/sessions/research/execute?wait=5000`, 'operatorA', { agent: 'poison' });
  ids['deadA'] = deadA.json<{ task: { id: string } }>().task.id;
  ids['traceA'] = (
    await call('POST', '/traces', 'operatorA', { session: 'research', data: { step: 1 } })
  ).json<{ id: string }>().id;
  ids['traceB'] = (await call('POST', '/traces', 'adminB', { session: 'research', data: { step: 1 } })).json<{
    id: string;
  }>().id;
});

afterAll(async () => {
  await app?.close();
  await warden?.close();
  rmSync(root, { recursive: true, force: true });
});

interface RouteCase {
  name: string;
  method: string;
  url: () => string;
  role: 'viewer' | 'operator' | 'admin' | 'installation';
  body?: () => unknown;
  invalidBody?: unknown;
  happy: number;
  /** The same request aimed at the other tenant's resource. */
  otherTenantUrl?: () => string;
  otherTenantBody?: () => unknown;
}

const routes: RouteCase[] = [
  {
    name: 'POST /sessions',
    method: 'POST',
    url: () => '/sessions',
    role: 'operator',
    body: () => ({ name: 'fresh' }),
    invalidBody: { name: 5 },
    happy: 201,
  },
  { name: 'GET /sessions', method: 'GET', url: () => '/sessions', role: 'viewer', happy: 200 },
  {
    name: 'GET /sessions/:id',
    method: 'GET',
    url: () => `/sessions/${ids['sessionA']}`,
    role: 'viewer',
    happy: 200,
    otherTenantUrl: () => `/sessions/${ids['sessionB']}`,
  },
  {
    name: 'POST /sessions/:id/execute',
    method: 'POST',
    url: () => `/sessions/${ids['sessionA']}/execute`,
    role: 'operator',
    body: () => ({ agent: 'noop', input: { x: 1 } }),
    invalidBody: { agent: 7, priority: 'urgent' },
    happy: 202,
    otherTenantUrl: () => `/sessions/${ids['sessionB']}/execute`,
  },
  {
    name: 'GET /tasks',
    method: 'GET',
    url: () => `/tasks?session=${ids['sessionA']}&state=succeeded&limit=10`,
    role: 'viewer',
    happy: 200,
    otherTenantUrl: () => `/tasks?session=${ids['sessionB']}`,
  },
  {
    name: 'GET /tasks/:id',
    method: 'GET',
    url: () => `/tasks/${ids['taskA']}`,
    role: 'viewer',
    happy: 200,
    otherTenantUrl: () => `/tasks/${ids['deadB']}`,
  },
  {
    name: 'POST /tasks/:id/cancel',
    method: 'POST',
    url: () => `/tasks/${ids['taskA']}/cancel`,
    role: 'operator',
    happy: 200,
    otherTenantUrl: () => `/tasks/${ids['deadB']}/cancel`,
  },
  {
    name: 'POST /agents',
    method: 'POST',
    url: () => '/agents',
    role: 'admin',
    body: () => ({ manifest: ECHO_YAML, files: { 'main.js': ECHO_JS } }),
    invalidBody: { manifest: 5 },
    happy: 201,
  },
  { name: 'GET /agents', method: 'GET', url: () => '/agents', role: 'viewer', happy: 200 },
  { name: 'GET /agents/status', method: 'GET', url: () => '/agents/status', role: 'viewer', happy: 200 },
  {
    name: 'POST /agents/:agent/breaker/reset',
    method: 'POST',
    url: () => '/agents/acme-noop/breaker/reset',
    role: 'operator',
    happy: 200,
  },
  { name: 'GET /agents/health', method: 'GET', url: () => '/agents/health', role: 'viewer', happy: 200 },
  {
    name: 'POST /traces',
    method: 'POST',
    url: () => '/traces',
    role: 'operator',
    body: () => ({ session: 'research', data: { plan: ['a', 'b'] } }),
    invalidBody: { data: 1 },
    happy: 201,
    otherTenantUrl: () => '/traces',
    otherTenantBody: () => ({ session: ids['sessionB'], data: {} }),
  },
  {
    name: 'GET /traces',
    method: 'GET',
    url: () => '/traces?session=research',
    role: 'viewer',
    happy: 200,
    otherTenantUrl: () => `/traces?taskId=${ids['deadB']}`,
  },
  {
    name: 'GET /traces/:id',
    method: 'GET',
    url: () => `/traces/${ids['traceA']}`,
    role: 'viewer',
    happy: 200,
    otherTenantUrl: () => `/traces/${ids['traceB']}`,
  },
  {
    name: 'GET /traces/:id/provenance',
    method: 'GET',
    url: () => `/traces/${ids['traceA']}/provenance`,
    role: 'viewer',
    happy: 200,
    otherTenantUrl: () => `/traces/${ids['traceB']}/provenance`,
  },
  {
    name: 'POST /traces/:id/provenance',
    method: 'POST',
    url: () => `/traces/${ids['traceA']}/provenance`,
    role: 'operator',
    body: () => ({ kind: 'reviewed', data: { by: 'alice' } }),
    invalidBody: { kind: '' },
    happy: 201,
    otherTenantUrl: () => `/traces/${ids['traceB']}/provenance`,
  },
  {
    name: 'GET /scheduler/stats',
    method: 'GET',
    url: () => '/scheduler/stats',
    role: 'operator',
    happy: 200,
  },
  { name: 'GET /dlq', method: 'GET', url: () => '/dlq', role: 'viewer', happy: 200 },
  {
    name: 'POST /dlq/:id/replay',
    method: 'POST',
    url: () => `/dlq/${ids['deadA']}/replay`,
    role: 'operator',
    happy: 200,
    otherTenantUrl: () => `/dlq/${ids['deadB']}/replay`,
  },
  { name: 'GET /metrics', method: 'GET', url: () => '/metrics', role: 'installation', happy: 200 },
  {
    name: 'GET /governance/stats',
    method: 'GET',
    url: () => '/governance/stats',
    role: 'viewer',
    happy: 200,
    otherTenantUrl: () => `/governance/stats?session=${ids['sessionB']}`,
  },
  {
    name: 'POST /governance/flag',
    method: 'POST',
    url: () => '/governance/flag',
    role: 'operator',
    body: () => ({ taskId: ids['taskA'], type: 'HighRisk', severity: 6, reason: 'reviewed by a person' }),
    invalidBody: { taskId: ids['taskA'], type: 'HighRisk', severity: 11, reason: 'x' },
    happy: 201,
    otherTenantUrl: () => '/governance/flag',
    otherTenantBody: () => ({ taskId: ids['deadB'], type: 'HighRisk', severity: 6, reason: 'cross-tenant' }),
  },
  {
    name: 'POST /governance/validate-merge',
    method: 'POST',
    url: () => '/governance/validate-merge',
    role: 'operator',
    body: () => ({ session: 'research', ids: [ids['taskA']] }),
    invalidBody: { session: 'research', ids: [] },
    happy: 200,
    otherTenantUrl: () => '/governance/validate-merge',
    otherTenantBody: () => ({ session: ids['sessionB'], ids: [ids['deadB']] }),
  },
  {
    name: 'POST /artifacts/export',
    method: 'POST',
    url: () => '/artifacts/export',
    role: 'viewer',
    body: () => ({ session: 'research' }),
    invalidBody: { session: 5 },
    happy: 200,
    otherTenantUrl: () => '/artifacts/export',
    otherTenantBody: () => ({ session: ids['sessionB'] }),
  },
  {
    name: 'POST /rd/knee',
    method: 'POST',
    url: () => '/rd/knee',
    role: 'viewer',
    body: () => ({
      points: [9, 5, 2.6, 1.3, 0.9, 0.7, 0.6, 0.55].map((distortion) => ({ distortion, variance: 10 })),
    }),
    invalidBody: { points: [{ distortion: 'high' }] },
    happy: 200,
  },
  {
    name: 'POST /rd/fgw',
    method: 'POST',
    url: () => '/rd/fgw',
    role: 'operator',
    body: () => ({
      a: {
        nodes: 3,
        edges: [
          [0, 1],
          [1, 2],
        ],
      },
      b: {
        nodes: 3,
        edges: [
          [0, 1],
          [0, 2],
        ],
      },
      alpha: 1,
    }),
    invalidBody: { a: { nodes: 'three' } },
    happy: 200,
  },
];

const SANDBOX = sandboxWorks('the POST /agents happy path (it registers a node agent)');
const below = { viewer: undefined, operator: 'viewerA', admin: 'operatorA', installation: 'adminA' } as const;
const holder = {
  viewer: 'viewerA',
  operator: 'operatorA',
  admin: 'adminA',
  installation: 'installation',
} as const;

describe.each(routes)('$name', (route) => {
  it('rejects a missing or unknown key with 401 and the JSON error shape', async () => {
    const none = await call(route.method, route.url(), undefined, route.body?.());
    expect(none.statusCode).toBe(401);
    expect(none.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    const bogus = await app.inject({
      method: route.method as 'GET',
      url: route.url(),
      headers: { authorization: 'Bearer wdn_not-a-real-key' },
    });
    expect(bogus.statusCode).toBe(401);
  });

  it.runIf(below[route.role] !== undefined)('rejects a role below the one required with 403', async () => {
    const res = await call(route.method, route.url(), below[route.role], route.body?.());
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
  });

  it.runIf(route.invalidBody !== undefined)('rejects an invalid body with 400 and field errors', async () => {
    const res = await call(route.method, route.url(), holder[route.role], route.invalidBody);
    expect(res.statusCode).toBe(400);
    const body = res.json<{ error: { code: string; details: { issues: unknown[] } } }>();
    expect(body.error.code).toBe('INVALID_INPUT');
    expect(body.error.details.issues.length).toBeGreaterThan(0);
  });

  it.runIf(route.otherTenantUrl !== undefined)("answers 404 for another tenant's resource", async () => {
    const res = await call(
      route.method,
      route.otherTenantUrl!(),
      holder[route.role],
      (route.otherTenantBody ?? route.body)?.(),
    );
    expect(res.statusCode).toBe(404);
    expect(res.json<{ error: { code: string } }>().error.code).toMatch(/NOT_FOUND$/);
  });

  // Registering a node agent (POST /agents) needs the process sandbox.
  it.runIf(route.name !== 'POST /agents' || SANDBOX)('serves the happy path', async () => {
    const res = await call(route.method, route.url(), holder[route.role], route.body?.());
    expect(res.statusCode, res.body).toBe(route.happy);
  });
});

describe('API behaviour', () => {
  it('executes and waits for the result in one call, scoped to the tenant', async () => {
    const res = await call('POST', '/sessions/research/execute?wait=5000', 'operatorA', {
      agent: 'noop',
      input: { hello: 'world' },
    });
    expect(res.statusCode).toBe(200);
    const { task, result } = res.json<{ task: { id: string; state: string }; result: { output: unknown } }>();
    expect(result.output).toEqual({ got: { hello: 'world' } });
    expect(task.state).toBe('succeeded');
    // Tenant B has its own session named "research": the same name never crosses tenants.
    const other = await call('GET', `/tasks/${task.id}`, 'adminB');
    expect(other.statusCode).toBe(404);
  });

  it('lists only the tenant dead letters', async () => {
    const a = (await call('GET', '/dlq', 'viewerA')).json<{ taskId: string }[]>().map((d) => d.taskId);
    expect(a).not.toContain(ids['deadB']);
    const b = (await call('GET', '/dlq', 'adminB')).json<{ taskId: string }[]>().map((d) => d.taskId);
    expect(b).toContain(ids['deadB']);
  });

  it('health is public and reports load', async () => {
    const res = await app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      status: 'ok',
      activeAgents: expect.any(Number),
      pendingTasks: expect.any(Number),
    });
  });

  it('serves an OpenAPI 3.1 document that lists every route', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      openapi: string;
      paths: Record<string, unknown>;
    }>();
    expect(doc.openapi).toBe('3.1.0');
    for (const path of [
      '/health',
      '/sessions',
      '/sessions/{id}',
      '/sessions/{id}/execute',
      '/tasks',
      '/tasks/{id}',
      '/tasks/{id}/events',
      '/agents',
      '/agents/status',
      '/agents/health',
      '/agents/{agent}/breaker/reset',
      '/traces',
      '/traces/{id}',
      '/traces/{id}/provenance',
      '/scheduler/stats',
      '/dlq',
      '/dlq/{id}/replay',
      '/metrics',
    ]) {
      expect(doc.paths, path).toHaveProperty([path]);
    }
    expect((await app.inject({ method: 'GET', url: '/docs' })).statusCode).toBeLessThan(400);
  });

  it('names every operation (unique operationId, declared tags) and every component schema', async () => {
    type Operation = { operationId?: string; tags?: string[]; responses?: Record<string, unknown> };
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      tags: { name: string; description: string }[];
      paths: Record<string, Record<string, Operation>>;
      components: { schemas: Record<string, unknown> };
    }>();
    const declared = new Set(doc.tags.map((t) => t.name));
    const seen = new Map<string, string>();
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const where = `${method.toUpperCase()} ${path}`;
        expect(op.operationId, where).toMatch(/^[a-z][A-Za-z0-9]+$/);
        expect(seen.get(op.operationId!), `${where} reuses the operationId of`).toBeUndefined();
        seen.set(op.operationId!, where);
        expect(op.tags?.length, where).toBeGreaterThan(0);
        for (const tag of op.tags!) expect(declared.has(tag), `${where}: tag ${tag}`).toBe(true);
        expect(Object.keys(op.responses ?? {}).length, where).toBeGreaterThan(0);
      }
    }
    const names = Object.keys(doc.components.schemas);
    expect(names).toEqual(expect.arrayContaining(['Error', 'Session', 'Task', 'TaskResult', 'Trace']));
    for (const name of names) expect(name).toMatch(/^[A-Z][A-Za-z]+$/);
    const text = JSON.stringify(doc);
    expect(text).not.toMatch(/def-\d+/);
    // Every $ref points at a component that exists.
    for (const [, ref] of text.matchAll(/"\$ref":"([^"]+)"/g)) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(names, ref).toContain(ref!.slice('#/components/schemas/'.length));
    }
  });

  it('names operations that set none after their method and path', () => {
    expect(defaultOperationId('POST', '/agents/:id/breaker/reset')).toBe('postAgentsBreakerReset');
    expect(defaultOperationId('GET', '/rd/knee')).toBe('getRdKnee');
    expect(defaultTag('/dlq/:id/replay')).toBe('dead-letters');
    expect(defaultTag('/agents/:id')).toBe('agents');
  });

  it('refuses uploaded file names that escape the agent directory', async () => {
    const res = await call('POST', '/agents', 'adminA', {
      manifest: ECHO_YAML.replace('1.0.0', '2.0.0'),
      files: { '../../evil.js': ECHO_JS },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'INVALID_INPUT' } });
  });

  it('answers unknown routes with the JSON error shape', async () => {
    const res = await call('GET', '/nope', 'adminA');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('exposes Prometheus metrics whose counters move with real tasks', async () => {
    const read = async () => (await call('GET', '/metrics', 'installation')).body;
    const value = (text: string) =>
      Number(/^warden_tasks_succeeded_total\{agent="noop@1.0.0"\} (\d+)/m.exec(text)?.[1] ?? 0);
    const before = await read();
    // Exposition format: every sample line is `name{labels} value`, every metric has HELP and TYPE.
    for (const line of before.split('\n').filter((l) => l && !l.startsWith('#'))) {
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eEnaIif]+$/);
    }
    expect(before).toMatch(/# TYPE warden_task_latency_seconds histogram/);
    expect(before).toMatch(/# TYPE warden_queue_depth gauge/);
    for (let i = 0; i < 3; i++)
      await call('POST', '/sessions/research/execute?wait=5000', 'operatorA', { agent: 'noop' });
    expect(value(await read())).toBe(value(before) + 3);
  });
});

describe('list routes', () => {
  type Page<K extends string> = Record<K, { id: string; sessionId: string }[]> & {
    nextCursor: string | null;
  };
  const list = async <K extends string>(url: string, who: string) => {
    const res = await call('GET', url, who);
    expect(res.statusCode, res.body).toBe(200);
    return res.json<Page<K>>();
  };

  it("lists only the caller's tenant's sessions, tasks and traces", async () => {
    const sessionsA = (await list<'sessions'>('/sessions', 'viewerA')).sessions.map((s) => s.id);
    expect(sessionsA).toContain(ids['sessionA']);
    expect(sessionsA).not.toContain(ids['sessionB']);
    const sessionsB = (await list<'sessions'>('/sessions', 'adminB')).sessions.map((s) => s.id);
    expect(sessionsB).toEqual([ids['sessionB']]);

    const tasksA = (await list<'tasks'>('/tasks?limit=1000', 'viewerA')).tasks.map((t) => t.id);
    expect(tasksA).toEqual(expect.arrayContaining([ids['taskA'], ids['deadA']]));
    expect(tasksA).not.toContain(ids['deadB']);
    const tasksB = (await list<'tasks'>('/tasks', 'adminB')).tasks.map((t) => t.id);
    expect(tasksB).toContain(ids['deadB']);
    expect(tasksB).not.toContain(ids['taskA']);

    const tracesA = (await list<'traces'>('/traces', 'viewerA')).traces.map((t) => t.id);
    expect(tracesA).toContain(ids['traceA']);
    expect(tracesA).not.toContain(ids['traceB']);
  });

  it("answers 404 for another tenant's session, task or trace named in a list or read", async () => {
    for (const url of [
      `/tasks?session=${ids['sessionA']}`,
      '/tasks?session=research-of-nobody',
      `/traces?session=${ids['sessionA']}`,
      `/traces?taskId=${ids['taskA']}`,
      `/traces/${ids['traceA']}`,
      `/traces/${ids['traceA']}/provenance`,
    ]) {
      const res = await call('GET', url, 'adminB');
      expect(res.statusCode, url).toBe(404);
      expect(res.json<{ error: { code: string } }>().error.code, url).toMatch(/NOT_FOUND$/);
    }
    // Session names are per tenant: globex's "research" is its own session, never acme's.
    const byName = await list<'tasks'>('/tasks?session=research', 'adminB');
    expect(byName.tasks.every((t) => t.sessionId === ids['sessionB'])).toBe(true);
  });

  it('filters tasks by state and agent, and leaves the input out of the list', async () => {
    const dead = (await list<'tasks'>('/tasks?state=dead', 'viewerA')).tasks;
    expect(dead.map((t) => t.id)).toContain(ids['deadA']);
    expect(dead.every((t) => (t as unknown as { state: string }).state === 'dead')).toBe(true);
    const byName = (await list<'tasks'>('/tasks?agent=poison', 'viewerA')).tasks;
    expect(byName.map((t) => t.id)).toContain(ids['deadA']);
    expect(byName.map((t) => t.id)).not.toContain(ids['taskA']);
    const byKey = (await list<'tasks'>('/tasks?agent=noop@1.0.0', 'viewerA')).tasks;
    expect(byKey.map((t) => t.id)).toContain(ids['taskA']);
    expect(byKey[0]).not.toHaveProperty('input');
    expect((await list<'tasks'>('/tasks?agent=no_op', 'viewerA')).tasks).toEqual([]); // `_` is not a wildcard
  });

  it('pages tasks and traces with limit and cursor, newest first, each item once', async () => {
    await call('POST', '/sessions', 'operatorA', { name: 'paging' });
    const made: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await call('POST', '/sessions/paging/execute', 'operatorA', {
        agent: 'noop',
        input: { i },
      });
      made.push(res.json<{ task: { id: string } }>().task.id);
      await call('POST', '/traces', 'operatorA', { session: 'paging', data: { i } });
    }
    for (const [url, key] of [
      ['/tasks?session=paging&limit=2', 'tasks'],
      ['/traces?session=paging&limit=2', 'traces'],
    ] as const) {
      const seen: string[] = [];
      let next: string | null = null;
      let pages = 0;
      do {
        const page: Page<typeof key> = await list<typeof key>(
          `${url}${next ? `&cursor=${encodeURIComponent(next)}` : ''}`,
          'viewerA',
        );
        expect(page[key].length, url).toBeLessThanOrEqual(2);
        seen.push(...page[key].map((t) => t.id));
        next = page.nextCursor;
        pages++;
      } while (next && pages < 10);
      expect(pages, url).toBe(3);
      expect(new Set(seen).size, url).toBe(5);
      if (key === 'tasks') expect(seen).toEqual([...made].reverse());
    }
  });

  it('refuses a bad limit, state or cursor with 400 and the field', async () => {
    for (const url of ['/tasks?limit=0', '/tasks?limit=1001', '/tasks?state=sleeping', '/traces?limit=x']) {
      const res = await call('GET', url, 'viewerA');
      expect(res.statusCode, url).toBe(400);
      expect(res.json<{ error: { code: string } }>().error.code).toBe('INVALID_INPUT');
    }
    for (const cursor of [
      'nonsense',
      Buffer.from('["a",1]').toString('base64url'),
      Buffer.from('{}').toString('base64url'),
    ]) {
      for (const path of ['/tasks', '/traces']) {
        const res = await call('GET', `${path}?cursor=${cursor}`, 'viewerA');
        expect(res.statusCode, `${path} ${cursor}`).toBe(400);
        expect(res.json<{ error: { message: string } }>().error.message).toContain('nextCursor');
      }
    }
  });

  it('reads a trace and the chain records about it, with the hashes the chain holds', async () => {
    const trace = (await call('GET', `/traces/${ids['traceA']}`, 'viewerA')).json<{
      id: string;
      data: unknown;
      digest: string;
    }>();
    expect(trace).toMatchObject({ id: ids['traceA'], data: { step: 1 } });
    const appended = (
      await call('POST', `/traces/${ids['traceA']}/provenance`, 'operatorA', {
        kind: 'reviewed',
        data: { by: 'bob' },
      })
    ).json<{ seq: number; hash: string }>();
    const prov = (await call('GET', `/traces/${ids['traceA']}/provenance`, 'viewerA')).json<{
      traceId: string;
      records: { seq: number; hash: string; record: { type: string; data: Record<string, unknown> } }[];
    }>();
    expect(prov.traceId).toBe(ids['traceA']);
    expect(prov.records[0]!.record).toMatchObject({
      type: 'trace.created',
      data: { traceId: ids['traceA'], digest: trace.digest },
    });
    expect(prov.records.at(-1)).toMatchObject({
      seq: appended.seq,
      hash: appended.hash,
      record: { type: 'trace.provenance', data: { kind: 'reviewed', by: 'bob' } },
    });
    expect(prov.records.every((r) => r.record.data['traceId'] === ids['traceA'])).toBe(true);
  });
});

describe('agents and their circuit breakers', () => {
  it('GET /agents lists the registered versions', async () => {
    const res = await call('GET', '/agents', 'viewerA');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ key: 'noop@1.0.0', name: 'noop', version: '1.0.0', runtime: 'inline' }),
      ]),
    );
  });

  it('status shows a breaker opened by failures as stored; an operator resets it and its tasks run', async () => {
    let healthy = false;
    await warden.registerHandler(
      'brittle',
      () => {
        if (!healthy) throw new Error('down');
        return 'up';
      },
      {
        tenant: 'acme',
        retry: { maxAttempts: 1 },
        circuitBreaker: { failureThreshold: 1, cooldownMs: 3_600_000 },
      },
    );
    const failed = await call('POST', '/sessions/research/execute?wait=5000', 'operatorA', {
      agent: 'brittle',
    });
    expect(failed.json()).toMatchObject({ result: { status: 'dead' } });
    const held = (await call('POST', '/sessions/research/execute', 'operatorA', { agent: 'brittle' })).json<{
      task: { id: string };
    }>().task.id;
    type Status = { key: string; breaker: string; circuitBreaker: Record<string, number | string | null> };
    const brittle = async () =>
      (await call('GET', '/agents/status', 'viewerA'))
        .json<Status[]>()
        .find((a) => a.key === 'acme/brittle@1.0.0');
    const open = await brittle();
    expect(open?.breaker).toBe('open');
    expect(open?.circuitBreaker).toMatchObject({ state: 'open', consecutiveFailures: 1 });
    expect(open?.circuitBreaker['nextProbeAt']).toBe(Number(open?.circuitBreaker['openedAt']) + 3_600_000);

    expect((await call('POST', '/agents/brittle/breaker/reset', 'viewerA')).statusCode).toBe(403);
    healthy = true;
    const reset = await call('POST', '/agents/brittle@1.0.0/breaker/reset', 'operatorA');
    expect(reset.statusCode, reset.body).toBe(200);
    expect(reset.json()).toMatchObject({
      reset: [{ agent: 'acme/brittle@1.0.0', previous: { state: 'open', consecutiveFailures: 1 } }],
    });
    expect((await brittle())?.circuitBreaker).toMatchObject({ state: 'closed', nextProbeAt: null });
    expect((await warden.result(held, { timeoutMs: 5000 }))?.status).toBe('succeeded');

    const unknown = await call('POST', '/agents/nobody/breaker/reset', 'operatorA');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { code: 'AGENT_NOT_FOUND' } });
  });
});

describe('rate-distortion endpoints', () => {
  it('finds the knee of a refinement curve (POST body or GET query) and measures FGW distortion', async () => {
    const points = [9, 5, 2.6, 1.3, 0.9, 0.7, 0.6, 0.55].map((distortion) => ({ distortion, variance: 10 }));
    const post = (await call('POST', '/rd/knee', 'viewerA', { points })).json<{ knee: { index: number } }>();
    expect(post.knee.index).toBe(2);
    const get = await call('GET', `/rd/knee?points=${encodeURIComponent(JSON.stringify(points))}`, 'viewerA');
    expect(get.json<{ knee: { index: number } }>().knee.index).toBe(2);
    const same = (
      await call('POST', '/rd/fgw', 'operatorA', {
        a: {
          nodes: 3,
          edges: [
            [0, 1],
            [1, 2],
          ],
        },
        b: {
          nodes: 3,
          edges: [
            [0, 1],
            [1, 2],
          ],
        },
        alpha: 1,
      })
    ).json<{ distance: number }>();
    expect(same.distance).toBeCloseTo(0, 12);
    const bad = await call('GET', '/rd/knee?points=not-json', 'viewerA');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'INVALID_JSON' } });
  });
});

describe('governance and export endpoints', () => {
  it('counts a manual flag in the tenant stats and exports a bundle that verifies offline', async () => {
    const { verifyBundleText } = await import('../src/provenance/index.js');
    const t = (
      await call('POST', '/sessions/research/execute?wait=5000', 'operatorA', {
        agent: 'noop',
        input: { q: 1 },
      })
    ).json<{ task: { id: string } }>().task;
    const before = (await call('GET', '/governance/stats', 'viewerA')).json<{
      total: number;
      byFlag: Record<string, number>;
    }>();
    expect(
      (
        await call('POST', '/governance/flag', 'operatorA', {
          taskId: t.id,
          type: 'Unsafe',
          severity: 8,
          reason: 'wrote to /etc',
        })
      ).statusCode,
    ).toBe(201);
    const after = (await call('GET', '/governance/stats', 'viewerA')).json<{
      total: number;
      byFlag: Record<string, number>;
    }>();
    expect(after.total).toBe(before.total + 1);
    expect(after.byFlag['Unsafe']).toBe((before.byFlag['Unsafe'] ?? 0) + 1);
    // Tenant B's stats do not see tenant A's flag.
    expect(
      (await call('GET', '/governance/stats', 'adminB')).json<{ byFlag: Record<string, number> }>().byFlag[
        'Unsafe'
      ],
    ).toBeUndefined();
    const merge = (
      await call('POST', '/governance/validate-merge', 'operatorA', { session: 'research', ids: [t.id] })
    ).json<{ ok: boolean }>();
    expect(merge.ok).toBe(false);
    const exported = await call('POST', '/artifacts/export', 'viewerA', { session: 'research' });
    expect(exported.statusCode).toBe(200);
    const report = await verifyBundleText(exported.body);
    expect(report.ok).toBe(true);
  });

  it('streams incremental exports: since an earlier export, verified against it; a bad since is a 400', async () => {
    const { verifyBundleText } = await import('../src/provenance/index.js');
    const first = await call('POST', '/artifacts/export', 'viewerA', { session: 'research' });
    expect(first.statusCode).toBe(200);
    const size = Number(first.headers['x-warden-tree-size']);
    expect(size).toBe(JSON.parse(first.body).treeHead.treeSize);
    await call('POST', '/sessions/research/execute?wait=5000', 'operatorA', {
      agent: 'noop',
      input: { more: 1 },
    });
    const next = await call('POST', '/artifacts/export', 'viewerA', { session: 'research', since: size });
    expect(next.statusCode).toBe(200);
    expect(next.headers['x-warden-since']).toBe(String(size));
    expect(Number(next.headers['x-warden-records'])).toBe(JSON.parse(next.body).records.length);
    expect(verifyBundleText(next.body, { previous: first.body })).toMatchObject({
      ok: true,
      extendsPrevious: true,
    });
    for (const since of [-1, 1.5, 'x'])
      expect(
        (await call('POST', '/artifacts/export', 'viewerA', { session: 'research', since })).statusCode,
      ).toBe(400);
    const beyond = await call('POST', '/artifacts/export', 'viewerA', { session: 'research', since: 1e9 });
    expect(beyond.statusCode).toBe(400);
    expect(beyond.json()).toMatchObject({ error: { code: 'INVALID_INPUT' } });
  });

  it('answers a coded error, not the output, for a result changed in the database', async () => {
    const t = (
      await call('POST', '/sessions/research/execute?wait=5000', 'operatorA', {
        agent: 'noop',
        input: { f: 1 },
      })
    ).json<{ task: { id: string } }>().task;
    expect((await call('GET', `/tasks/${t.id}`, 'viewerA')).statusCode).toBe(200);
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(root, 'warden.db'));
    db.prepare('UPDATE results SET output = ? WHERE task_id = ?').run('{"got":"forged"}', t.id);
    db.close();
    const res = await call('GET', `/tasks/${t.id}`, 'viewerA');
    expect(res.statusCode).toBe(500);
    expect(res.json()).toMatchObject({ error: { code: 'PROVENANCE_RESULT_MISMATCH' } });
    expect(res.body).not.toContain('forged');
  });
});

describe('rate limiting', () => {
  it('answers 429 with the JSON error shape once a key exceeds its budget', async () => {
    const limited = await buildServer(warden, { logger: false, rateLimit: { max: 3, windowMs: 60_000 } });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 5; i++)
        codes.push(
          (
            await limited.inject({
              method: 'GET',
              url: '/agents/status',
              headers: { authorization: `Bearer ${key['viewerA']}` },
            })
          ).statusCode,
        );
      expect(codes).toEqual([200, 200, 200, 429, 429]);
      const res = await limited.inject({
        method: 'GET',
        url: '/agents/status',
        headers: { authorization: `Bearer ${key['viewerA']}` },
      });
      expect(res.json()).toMatchObject({ error: { code: 'RATE_LIMITED' } });
      expect(res.headers['retry-after']).toBeDefined();
      // Another key has its own budget.
      expect(
        (
          await limited.inject({
            method: 'GET',
            url: '/agents/status',
            headers: { authorization: `Bearer ${key['adminA']}` },
          })
        ).statusCode,
      ).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

interface SseEvent {
  id: string | undefined;
  event: string;
  data: Record<string, unknown>;
}

let listening: Promise<string> | undefined;
/** The server's address, listening from the first call on (SSE needs a real connection). */
const serverAddress = () => (listening ??= app.listen({ port: 0, host: '127.0.0.1' }));

/** Reads a task's whole event stream (it ends when the server closes it after `result`). */
async function readEvents(
  taskId: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; events: SseEvent[] }> {
  const res = await fetch(`${await serverAddress()}/tasks/${taskId}/events`, {
    headers: { authorization: `Bearer ${key['viewerA']}`, ...headers },
  });
  const text = await res.text();
  const events = text
    .split('\n\n')
    .filter((block) => /^event: /m.test(block))
    .map((block) => {
      const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(block)?.[1];
      return {
        id: field('id'),
        event: field('event')!,
        data: JSON.parse(field('data')!) as Record<string, unknown>,
      };
    });
  return { status: res.status, events };
}

describe('Server-Sent Events', () => {
  it('streams the full sequence of a task and closes when it is finished', async () => {
    // The task finishes only once the client is connected, however slow the machine.
    let connected!: () => void;
    const client = new Promise<void>((r) => (connected = r));
    await warden.registerHandler(
      'chatty',
      async (_input: unknown, ctx) => {
        ctx.log('thinking');
        await client;
        ctx.log('done');
        return { answer: 42 };
      },
      { tenant: 'acme' },
    );
    const address = await serverAddress();
    const submitted = await call('POST', '/sessions/research/execute', 'operatorA', { agent: 'chatty' });
    const { task } = submitted.json<{ task: { id: string } }>();
    const res = await fetch(`${address}/tasks/${task.id}/events`, {
      headers: { authorization: `Bearer ${key['viewerA']}` },
    });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    connected();
    const text = await res.text(); // resolves only when the server closes the stream
    const events = [...text.matchAll(/event: (\w+)\ndata: (.*)\n/g)].map((m) => ({
      event: m[1]!,
      data: JSON.parse(m[2]!) as Record<string, unknown>,
    }));
    const names = events.map((e) => e.event);
    expect(['queued', 'started']).toContain(names[0]);
    expect(names).toContain('started');
    expect(names.at(-1)).toBe('result');
    expect(events.filter((e) => e.event === 'log').map((e) => e.data['message'])).toEqual([
      'thinking',
      'done',
    ]);
    expect(events.at(-1)!.data).toMatchObject({ status: 'succeeded', output: { answer: 42 } });
  });

  it("a late subscriber's first event is the current state, with the result when finished", async () => {
    const done = await call('POST', '/sessions/research/execute?wait=5000', 'operatorA', { agent: 'noop' });
    const { task } = done.json<{ task: { id: string } }>();
    const { events } = await readEvents(task.id);
    expect(events[0]).toMatchObject({
      event: 'succeeded',
      data: { taskId: task.id, state: 'succeeded', attempt: 1, result: { status: 'succeeded' } },
    });
    expect(events.map((e) => e.event)).not.toContain('queued');
    expect(events.at(-1)).toMatchObject({ event: 'result', data: { status: 'succeeded' } });
  });

  it('sends exactly one retrying event per retry', async () => {
    let calls = 0;
    await warden.registerHandler(
      'once-busy',
      async () => {
        // Asks for a 700 ms pause (as a provider's Retry-After does): long enough for the store poll to see it.
        // The first attempt lasts a moment, so that the stream below is open before the retry, not after.
        if (++calls === 1) {
          await new Promise((r) => setTimeout(r, 300));
          throw new WardenError('AGENT_FAILED', 'busy, come back later', { details: { retryAfterMs: 700 } });
        }
        return { calls };
      },
      { tenant: 'acme', retry: { maxAttempts: 2, baseMs: 1, maxMs: 1 } },
    );
    const submitted = await call('POST', '/sessions/research/execute', 'operatorA', { agent: 'once-busy' });
    const { task } = submitted.json<{ task: { id: string } }>();
    const { events } = await readEvents(task.id);
    const names = events.map((e) => e.event);
    expect(names.filter((n) => n === 'retrying')).toHaveLength(1);
    expect(names.filter((n) => n === 'started').length).toBeLessThanOrEqual(2);
    expect(events.find((e) => e.event === 'retrying')).toMatchObject({
      id: '1:r',
      data: { attempt: 1, error: { code: 'AGENT_FAILED' }, retryAt: expect.any(Number) as number },
    });
    expect(events.at(-1)).toMatchObject({ event: 'result', data: { status: 'succeeded', attempts: 2 } });
  });

  it('gives events stable ids and resumes after Last-Event-ID', async () => {
    await warden.registerHandler(
      'three-lines',
      (_input: unknown, ctx) => {
        for (const line of ['one', 'two', 'three']) ctx.log(line);
        return 'ok';
      },
      { tenant: 'acme' },
    );
    const done = await call('POST', '/sessions/research/execute?wait=5000', 'operatorA', {
      agent: 'three-lines',
    });
    const { task } = done.json<{ task: { id: string } }>();
    await eventually(async () => (await warden.logs(task.id)).length === 3, 5000, 'logs stored');
    const first = await readEvents(task.id);
    const logs = first.events.filter((e) => e.event === 'log');
    expect(logs.map((e) => [e.id, e.data['message']])).toEqual([
      ['1:l1', 'one'],
      ['1:l2', 'two'],
      ['1:l3', 'three'],
    ]);
    expect(first.events.at(-1)?.id).toBe('end');

    // A reconnecting client (EventSource sends the last id it saw) gets the state, then only what it missed.
    const resumed = await readEvents(task.id, { 'last-event-id': '1:l1' });
    expect(resumed.events.map((e) => [e.event, e.id])).toEqual([
      ['succeeded', undefined],
      ['log', '1:l2'],
      ['log', '1:l3'],
      ['result', 'end'],
    ]);
    // After the last event there is nothing more: 204 tells EventSource to stop reconnecting.
    expect((await readEvents(task.id, { 'last-event-id': 'end' })).status).toBe(204);
    const invalid = await app.inject({
      method: 'GET',
      url: `/tasks/${task.id}/events`,
      headers: { authorization: `Bearer ${key['viewerA']}`, 'last-event-id': 'not-an-id' },
    });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json()).toMatchObject({ error: { code: 'INVALID_INPUT' } });
  });
});

describe('fuzzing every route', () => {
  it('never answers 5xx to malformed input and stays healthy', async () => {
    const paths = [
      '/sessions',
      '/sessions/%s',
      '/sessions/%s/execute',
      '/tasks/%s',
      '/tasks/%s/cancel',
      '/tasks/%s/events',
      '/agents',
      '/agents/status',
      '/traces',
      '/traces/%s',
      '/traces/%s/provenance',
      '/traces?cursor=%s',
      '/tasks?cursor=%s&limit=2',
      '/tasks?state=%s',
      '/tasks?agent=%s',
      '/scheduler/stats',
      '/dlq',
      '/dlq/%s/replay',
      '/metrics',
      '/health',
    ];
    const weird = fc.oneof(
      fc.string(),
      fc.string({ unit: 'grapheme', maxLength: 50 }),
      fc.constantFrom(
        '..',
        '../../etc/passwd',
        '%2e%2e%2f',
        '%00',
        '\u0000',
        'a'.repeat(5000),
        '😀'.repeat(100),
        ids['taskA']!,
        ids['deadB']!,
        '?wait=-1',
        '?wait=abc',
      ),
    );
    const body = fc.oneof(
      fc.jsonValue(),
      fc.string(),
      fc.constant('{"unterminated": '),
      fc.constant('x'.repeat(300_000)),
      fc.record({
        agent: fc.anything(),
        input: fc.anything(),
        manifest: fc.anything(),
        session: fc.anything(),
        data: fc.anything(),
        name: fc.anything(),
      }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths),
        weird,
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
        body,
        fc.boolean(),
        async (path, segment, method, payload, asJson) => {
          const url = path.replace('%s', encodeURIComponent(segment).slice(0, 6000));
          const res = await app.inject({
            method: method as 'GET',
            url: url.endsWith('/events') && method === 'GET' ? url.replace('/events', '') : url,
            headers: {
              authorization: `Bearer ${key['adminA']}`,
              'content-type': asJson ? 'application/json' : 'text/plain',
            },
            ...(method === 'GET'
              ? {}
              : { payload: typeof payload === 'string' ? payload : JSON.stringify(payload) }),
          });
          expect(res.statusCode, `${method} ${url} -> ${res.body.slice(0, 300)}`).toBeLessThan(500);
          if (res.statusCode >= 400)
            expect(res.json<{ error: { code: string } }>().error.code).toEqual(expect.any(String));
        },
      ),
      { numRuns: 300 },
    );
    await eventually(
      async () => (await app.inject({ method: 'GET', url: '/health' })).statusCode === 200,
      2000,
      'healthy server',
    );
  });
});

describe('TLS', () => {
  it('serves HTTPS when a certificate and key are configured', async () => {
    const { execFileSync } = await import('node:child_process');
    const https = await import('node:https');
    const dir = mkdtempSync(join(tmpdir(), 'warden-tls-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=localhost',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
        ],
        { stdio: 'ignore' },
      );
      const secure = await buildServer(warden, {
        logger: false,
        rateLimit: false,
        tls: { certPath: join(dir, 'cert.pem'), keyPath: join(dir, 'key.pem') },
      });
      try {
        const address = await secure.listen({ port: 0, host: '127.0.0.1' });
        expect(address).toMatch(/^https:/);
        const body = await new Promise<string>((resolve, reject) => {
          https
            .get(`${address}/health`, { rejectUnauthorized: false }, (res) => {
              let text = '';
              res.on('data', (c: Buffer) => (text += c.toString()));
              res.on('end', () => resolve(text));
            })
            .on('error', reject);
        });
        expect(JSON.parse(body)).toMatchObject({ status: 'ok' });
      } finally {
        await secure.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
