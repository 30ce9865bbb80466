import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, createApiKey } from '../src/api/index.js';
import { Warden } from '../src/index.js';
import { eventually, sandboxIfAvailable } from './helpers.js';

// The tenant matrix: two tenants, each with an admin, an operator and a viewer key. Every route that
// takes an id is called with tenant B's keys and tenant A's ids, and must answer exactly what it answers
// for an id that does not exist; afterwards nothing of tenant A's may have changed in the store.

const ROLES = ['admin', 'operator', 'viewer'] as const;
type Who = `${'A' | 'B'}-${(typeof ROLES)[number]}`;

let warden: Warden;
let root: string;
let app: FastifyInstance;
const key = {} as Record<Who | 'installation', string>;
const A = {} as Record<
  'session' | 'sessionName' | 'task' | 'dead' | 'trace' | 'agent' | 'flaggedTask',
  string
>;
const B = {} as Record<'session' | 'task', string>;

const agentYaml = (name: string, version: string, runtime = 'node') => `apiVersion: warden.dev/v1
kind: Agent
metadata: { name: ${name}, version: ${version} }
spec:
  runtime: ${runtime}
  entry: ./main.js
  resources: { timeoutMs: 10000 }
  retry: { maxAttempts: 1 }
`;
/** A node agent that answers `marker` and echoes its input. */
const agentJs = (marker: string) =>
  Buffer.from(
    `let s='';process.stdin.on('data',d=>s+=d);process.stdin.on('end',()=>process.stdout.write(JSON.stringify({marker:${JSON.stringify(marker)},input:JSON.parse(s)})));`,
  ).toString('base64');

function call(method: string, url: string, who: Who | 'installation', body?: unknown) {
  return app.inject({
    method: method as 'GET',
    url,
    headers: { authorization: `Bearer ${key[who]}` },
    ...(body === undefined ? {} : { payload: body as object }),
  });
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'warden-tenancy-'));
  warden = await Warden.open({
    storage: { root },
    workers: { concurrency: 4 },
    sandbox: sandboxIfAvailable(),
  });
  // Trusted handlers of the installation, shared with every tenant.
  await warden.registerHandler('ok', (input: unknown) => ({ got: input }), { shared: true });
  await warden.registerHandler(
    'poison',
    () => {
      throw new Error('always fails');
    },
    // A breaker that never opens: the dead-letter test below fails many of these on purpose.
    { retry: { maxAttempts: 1 }, circuitBreaker: { failureThreshold: 10_000 }, shared: true },
  );
  app = await buildServer(warden, { logger: false, rateLimit: false });
  for (const [t, tenant] of [
    ['A', 'acme'],
    ['B', 'globex'],
  ] as const) {
    for (const role of ROLES)
      key[`${t}-${role}`] = (await createApiKey(warden.store, { tenant, role, name: `${t}-${role}` })).key;
  }
  key.installation = (
    await createApiKey(warden.store, { tenant: 'default', role: 'admin', name: 'ops', installation: true })
  ).key;

  A.sessionName = 'research';
  A.session = (await call('POST', '/sessions', 'A-operator', { name: 'research' })).json<{ id: string }>().id;
  B.session = (await call('POST', '/sessions', 'B-operator', { name: 'research' })).json<{ id: string }>().id;
  const exec = async (who: Who, body: unknown) =>
    (await call('POST', '/sessions/research/execute?wait=5000', who, body)).json<{ task: { id: string } }>()
      .task.id;
  A.task = await exec('A-operator', { agent: 'ok', input: { n: 1 } });
  A.flaggedTask = await exec('A-operator', { agent: 'ok', input: { n: 2 } });
  A.dead = await exec('A-operator', { agent: 'poison' });
  B.task = await exec('B-operator', { agent: 'ok', input: { n: 3 } });
  await call('POST', '/governance/flag', 'A-operator', {
    taskId: A.flaggedTask,
    type: 'HighRisk',
    severity: 9,
    reason: "acme's confidential reason",
  });
  A.trace = (
    await call('POST', '/traces', 'A-operator', { session: 'research', taskId: A.task, data: { step: 1 } })
  ).json<{ id: string }>().id;
  const registered = await call('POST', '/agents', 'A-admin', {
    manifest: agentYaml('secret-agent', '1.0.0'),
    files: { 'main.js': agentJs('acme') },
  });
  expect(registered.statusCode, registered.body).toBe(201);
  A.agent = 'secret-agent';
  await eventually(async () => (await warden.store.getResult(A.dead)) !== undefined);
  // Sign A's tree head now, so that a later background signing of A's own commits is not taken for a change.
  await warden.store.signTreeHead(A.session);
}, 60_000);

afterAll(async () => {
  await app?.close();
  await warden?.close();
  rmSync(root, { recursive: true, force: true });
});

/** Everything of tenant A's that a request could read or change. */
async function snapshotOfA(): Promise<string> {
  const s = warden.store;
  const tasks = await s.listTasks({ sessionId: A.session, limit: 10_000 });
  return JSON.stringify({
    session: await s.getSession(A.session),
    tasks,
    results: await s.getResults(tasks.map((t) => t.id)),
    dead: await s.listDeadLetters({ sessionId: A.session, limit: 10_000 }),
    flags: await s.listFlags({ sessionId: A.session }),
    chain: await s.readChain(A.session),
    head: await s.latestTreeHead(A.session),
    trace: await s.getTrace(A.trace),
    agents: (await s.listAgents()).filter((a) => a.tenant === 'acme'),
  });
}

interface MatrixCase {
  name: string;
  method: string;
  /** The request, given tenant A's ids (the attack) or ids that exist nowhere (the baseline). */
  request: (ids: typeof A) => { url: string; body?: unknown };
  /** The least role that gets past authorisation. */
  role: (typeof ROLES)[number];
  /** What a caller with that role gets for a missing id. @default 404 */
  missing?: number;
}

const MATRIX: MatrixCase[] = [
  {
    name: 'GET /sessions/:id',
    method: 'GET',
    role: 'viewer',
    request: (i) => ({ url: `/sessions/${i.session}` }),
  },
  {
    name: 'POST /sessions (name = a session id)',
    method: 'POST',
    role: 'operator',
    missing: 400,
    request: (i) => ({ url: '/sessions', body: { name: i.session } }),
  },
  {
    name: 'POST /sessions/:id/execute',
    method: 'POST',
    role: 'operator',
    request: (i) => ({ url: `/sessions/${i.session}/execute`, body: { agent: 'ok', input: {} } }),
  },
  {
    name: "POST /sessions/:id/execute (the other tenant's agent)",
    method: 'POST',
    role: 'operator',
    request: (i) => ({ url: '/sessions/research/execute', body: { agent: i.agent, input: {} } }),
  },
  {
    name: "POST /sessions/:id/execute (the other tenant's agent, by version)",
    method: 'POST',
    role: 'operator',
    request: (i) => ({ url: '/sessions/research/execute', body: { agent: `${i.agent}@1.0.0` } }),
  },
  { name: 'GET /tasks/:id', method: 'GET', role: 'viewer', request: (i) => ({ url: `/tasks/${i.task}` }) },
  {
    name: 'GET /tasks/:id/history',
    method: 'GET',
    role: 'viewer',
    request: (i) => ({ url: `/tasks/${i.task}/history` }),
  },
  {
    name: 'GET /governance/flags?task=',
    method: 'GET',
    role: 'viewer',
    request: (i) => ({ url: `/governance/flags?task=${i.flaggedTask}` }),
  },
  {
    name: 'GET /governance/flags?session=',
    method: 'GET',
    role: 'viewer',
    request: (i) => ({ url: `/governance/flags?session=${i.session}` }),
  },
  {
    name: 'GET /events?session=',
    method: 'GET',
    role: 'viewer',
    request: (i) => ({ url: `/events?session=${i.session}` }),
  },
  {
    name: 'GET /tasks/:id/events',
    method: 'GET',
    role: 'viewer',
    request: (i) => ({ url: `/tasks/${i.task}/events` }),
  },
  {
    name: 'POST /tasks/:id/cancel',
    method: 'POST',
    role: 'operator',
    request: (i) => ({ url: `/tasks/${i.task}/cancel` }),
  },
  {
    name: 'POST /traces (session)',
    method: 'POST',
    role: 'operator',
    request: (i) => ({ url: '/traces', body: { session: i.session, data: { x: 1 } } }),
  },
  {
    name: 'POST /traces (session by name, task of the other tenant)',
    method: 'POST',
    role: 'operator',
    request: (i) => ({ url: '/traces', body: { session: 'research', taskId: i.task, data: { x: 1 } } }),
  },
  {
    name: 'POST /traces/:id/provenance',
    method: 'POST',
    role: 'operator',
    request: (i) => ({ url: `/traces/${i.trace}/provenance`, body: { kind: 'tampered' } }),
  },
  {
    name: 'GET /dlq?session',
    method: 'GET',
    role: 'viewer',
    request: (i) => ({ url: `/dlq?session=${i.session}` }),
  },
  {
    name: 'POST /dlq/:id/replay',
    method: 'POST',
    role: 'operator',
    request: (i) => ({ url: `/dlq/${i.dead}/replay` }),
  },
  {
    name: 'POST /dlq/purge',
    method: 'POST',
    role: 'operator',
    missing: 200,
    request: (i) => ({ url: '/dlq/purge', body: { ids: [i.dead] } }),
  },
  {
    name: 'GET /governance/stats?session',
    method: 'GET',
    role: 'viewer',
    request: (i) => ({ url: `/governance/stats?session=${i.session}` }),
  },
  {
    name: 'POST /governance/flag',
    method: 'POST',
    role: 'operator',
    request: (i) => ({
      url: '/governance/flag',
      body: { taskId: i.task, type: 'Malicious', severity: 10, reason: 'cross-tenant' },
    }),
  },
  {
    name: 'POST /governance/validate-merge (own session, foreign ids)',
    method: 'POST',
    role: 'operator',
    missing: 200,
    request: (i) => ({
      url: '/governance/validate-merge',
      body: { session: 'research', ids: [i.flaggedTask, i.task, i.dead, i.trace] },
    }),
  },
  {
    name: 'POST /governance/validate-merge (foreign session)',
    method: 'POST',
    role: 'operator',
    request: (i) => ({ url: '/governance/validate-merge', body: { session: i.session, ids: [i.task] } }),
  },
  {
    name: 'POST /governance/release',
    method: 'POST',
    role: 'admin',
    request: (i) => ({ url: '/governance/release', body: { taskId: i.flaggedTask } }),
  },
  {
    name: 'POST /artifacts/export',
    method: 'POST',
    role: 'viewer',
    request: (i) => ({ url: '/artifacts/export', body: { session: i.session } }),
  },
  {
    name: 'GET /agents/health?agent',
    method: 'GET',
    role: 'viewer',
    request: (i) => ({ url: `/agents/health?agent=${i.agent}` }),
  },
];

/** Ids that exist nowhere, in the shape of the real ones. */
function missingIds(): typeof A {
  return {
    session: randomUUID(),
    sessionName: 'nowhere',
    task: randomUUID(),
    dead: randomUUID(),
    trace: randomUUID(),
    agent: 'no-such-agent',
    flaggedTask: randomUUID(),
  };
}

/** The response with every id replaced by its role, so an attack and its baseline compare equal. */
function normalised(res: LightMyRequestResponse, ids: typeof A) {
  let body = res.body;
  for (const [name, id] of Object.entries(ids))
    if (name !== 'sessionName') body = body.split(id).join(`<${name}>`);
  return { status: res.statusCode, body };
}

describe('tenant matrix: tenant B against tenant A', () => {
  it.each(MATRIX)('$name answers as for a missing id, for every role of tenant B', async (c) => {
    const before = await snapshotOfA();
    for (const role of ROLES) {
      const who = `B-${role}` as Who;
      const missing = missingIds();
      const baseline = normalised(await send(c, who, missing), missing);
      const attack = normalised(await send(c, who, A), A);
      expect(attack, `${c.name} as ${who}`).toEqual(baseline);
      const allowed = ROLES.indexOf(role) <= ROLES.indexOf(c.role);
      expect(attack.status, `${c.name} as ${who}: ${attack.body}`).toBe(allowed ? (c.missing ?? 404) : 403);
    }
    expect(await snapshotOfA()).toBe(before);
  });

  it("serves tenant A's own keys on the same ids (the matrix aims at real resources)", async () => {
    expect((await call('GET', `/tasks/${A.task}`, 'A-viewer')).statusCode).toBe(200);
    expect((await call('GET', `/sessions/${A.session}`, 'A-viewer')).statusCode).toBe(200);
    expect((await call('GET', `/dlq?session=${A.session}`, 'A-viewer')).json()).toEqual([
      expect.objectContaining({ taskId: A.dead }),
    ]);
    const merge = (
      await call('POST', '/governance/validate-merge', 'A-operator', {
        session: 'research',
        ids: [A.flaggedTask],
      })
    ).json<{ verdicts: { reasons: string[] }[] }>();
    expect(merge.verdicts[0]!.reasons.join()).toContain("acme's confidential reason");
    expect((await call('GET', `/agents/health?agent=${A.agent}`, 'A-viewer')).statusCode).toBe(200);
  });

  async function send(c: MatrixCase, who: Who, ids: typeof A) {
    const { url, body } = c.request(ids);
    return call(c.method, url, who, body);
  }
});

describe('tenant-wide lists and bulk operations', () => {
  it("lists and purges only the caller's dead letters, however many another tenant has", async () => {
    // Tenant B has many newer dead letters; A's one must still be listed (no global limit then filter).
    const doomed = await Promise.all(
      Array.from({ length: 30 }, () =>
        call('POST', '/sessions/research/execute', 'B-operator', { agent: 'poison' }),
      ),
    );
    for (const res of doomed) {
      const id = res.json<{ task: { id: string } }>().task.id;
      await eventually(async () => (await warden.store.getResult(id)) !== undefined);
    }
    const forA = (await call('GET', '/dlq?limit=5', 'A-viewer')).json<{ taskId: string }[]>();
    expect(forA.map((d) => d.taskId)).toEqual([A.dead]);
    const forB = (await call('GET', '/dlq?limit=1000', 'B-viewer')).json<{ taskId: string }[]>();
    expect(forB.length).toBeGreaterThanOrEqual(30);
    expect(forB.map((d) => d.taskId)).not.toContain(A.dead);

    const purged = await call('POST', '/dlq/purge', 'B-operator', { all: true });
    expect(purged.statusCode, purged.body).toBe(200);
    expect(purged.json<{ purged: number }>().purged).toBe(forB.length);
    expect((await warden.store.listDeadLetters({ sessionId: A.session })).map((d) => d.taskId)).toEqual([
      A.dead,
    ]);
    expect((await call('GET', '/dlq', 'B-viewer')).json()).toEqual([]);
  });

  it('lists only the agents the tenant can use and the scheduler breakers of those', async () => {
    const keysOf = async (who: Who) =>
      (await call('GET', '/agents/status', who)).json<{ key: string }[]>().map((a) => a.key);
    expect(await keysOf('A-viewer')).toContain('acme/secret-agent@1.0.0');
    expect(await keysOf('B-viewer')).not.toContain('acme/secret-agent@1.0.0');
    expect(await keysOf('B-viewer')).toContain('ok@1.0.0');
  });

  // An outside audit: tenant A's own 1 ms timeouts opened a shared agent's breaker for every tenant, and
  // tenant B's /agents/status showed A's in-flight tasks on it.
  it("a shared agent shows each tenant only its own load, and a tenant's short timeouts never open its breaker", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await warden.registerHandler(
      'slowshare',
      async (_: unknown, ctx: { signal: AbortSignal }) =>
        Promise.race([gate, new Promise((r) => ctx.signal.addEventListener('abort', r))]),
      {
        shared: true,
        retry: { maxAttempts: 1 },
        circuitBreaker: { failureThreshold: 2, cooldownMs: 600_000 },
      },
    );
    const status = async (who: Who) =>
      (await call('GET', '/agents/status', who))
        .json<{ key: string; inFlight: number; circuitBreaker: { state: string } }[]>()
        .find((a) => a.key === 'slowshare@1.0.0')!;
    const timedOut: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await call('POST', '/sessions/research/execute', 'A-operator', {
        agent: 'slowshare',
        timeoutMs: 1,
      });
      timedOut.push(res.json<{ task: { id: string } }>().task.id);
    }
    for (const id of timedOut)
      expect((await warden.result(id, { timeoutMs: 15_000 }))?.error?.code).toBe('TIMEOUT');
    expect((await status('B-viewer')).circuitBreaker.state).toBe('closed');
    const running: string[] = [];
    for (let i = 0; i < 3; i++)
      running.push(
        (await call('POST', '/sessions/research/execute', 'A-operator', { agent: 'slowshare' })).json<{
          task: { id: string };
        }>().task.id,
      );
    await eventually(async () => (await status('A-viewer')).inFlight === 3, 10_000, 'A sees its 3 tasks');
    expect((await status('B-viewer')).inFlight).toBe(0);
    release();
    for (const id of running)
      expect((await warden.result(id, { timeoutMs: 15_000 }))?.status).toBe('succeeded');
  }, 60_000);

  it('keeps installation-wide metrics for installation admins', async () => {
    expect((await call('GET', '/metrics', 'A-admin')).statusCode).toBe(403);
    expect((await call('GET', '/metrics', 'installation')).statusCode).toBe(200);
  });
});

describe('sessions: names and ids never alias across tenants', () => {
  it("creates the caller's own session when the name is another tenant's session id", async () => {
    const res = await call('POST', '/sessions', 'B-operator', { name: A.session });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'INVALID_INPUT' } });
    expect(res.body).not.toContain('acme');
  });

  it("a name that equals another tenant's id resolves to nothing in the caller's tenant", async () => {
    expect(await warden.store.getSession(A.session, 'globex')).toBeUndefined();
    expect((await warden.store.getSession(A.session, 'acme'))?.id).toBe(A.session);
    expect((await warden.store.getSession('research', 'globex'))?.id).toBe(B.session);
  });
});

describe('agents belong to a tenant', () => {
  it("never runs another tenant's code: B registering echo@9.9.9 leaves A's echo alone", async () => {
    const a = await call('POST', '/agents', 'A-admin', {
      manifest: agentYaml('echo', '1.0.0'),
      files: { 'main.js': agentJs('acme') },
    });
    expect(a.statusCode, a.body).toBe(201);
    const b = await call('POST', '/agents', 'B-admin', {
      manifest: agentYaml('echo', '9.9.9'),
      files: { 'main.js': agentJs('pwned by globex') },
    });
    expect(b.statusCode, b.body).toBe(201);
    expect(b.json()).toMatchObject({ key: 'globex/echo@9.9.9' });

    const run = await call('POST', '/sessions/research/execute?wait=15000', 'A-operator', {
      agent: 'echo',
      input: { secret: 'acme data' },
    });
    expect(run.statusCode, run.body).toBe(200);
    const { task, result } = run.json<{ task: { agent: string }; result: { output: unknown } }>();
    expect(task.agent).toBe('acme/echo@1.0.0');
    expect(result.output).toEqual({ marker: 'acme', input: { secret: 'acme data' } });

    // The same name and version in two tenants are two agents.
    const b1 = await call('POST', '/agents', 'B-admin', {
      manifest: agentYaml('echo', '1.0.0'),
      files: { 'main.js': agentJs('globex 1.0.0') },
    });
    expect(b1.statusCode, b1.body).toBe(201);
    const again = await call('POST', '/sessions/research/execute?wait=15000', 'A-operator', {
      agent: 'echo@1.0.0',
      input: 1,
    });
    expect(again.json<{ result: { output: unknown } }>().result.output).toEqual({ marker: 'acme', input: 1 });
  }, 60_000);

  it('shares an agent only when an installation admin registers it as shared', async () => {
    const refused = await call('POST', '/agents', 'A-admin', {
      manifest: agentYaml('common', '1.0.0'),
      files: { 'main.js': agentJs('common') },
      shared: true,
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
    const shared = await call('POST', '/agents', 'installation', {
      manifest: agentYaml('common', '1.0.0'),
      files: { 'main.js': agentJs('common') },
      shared: true,
    });
    expect(shared.statusCode, shared.body).toBe(201);
    expect(shared.json()).toMatchObject({ key: 'common@1.0.0', shared: true });
    for (const who of ['A-operator', 'B-operator'] as const) {
      const run = await call('POST', '/sessions/research/execute?wait=15000', who, {
        agent: 'common',
        input: 0,
      });
      expect(run.json<{ result: { output: unknown } }>().result.output).toEqual({
        marker: 'common',
        input: 0,
      });
    }
  }, 60_000);

  it("a tenant's own version shadows a shared agent of the same name", async () => {
    const own = await call('POST', '/agents', 'B-admin', {
      manifest: agentYaml('common', '0.1.0'),
      files: { 'main.js': agentJs('globex common') },
    });
    expect(own.statusCode, own.body).toBe(201);
    const run = await call('POST', '/sessions/research/execute?wait=15000', 'B-operator', {
      agent: 'common',
    });
    expect(run.json<{ task: { agent: string } }>().task.agent).toBe('globex/common@0.1.0');
    const pinned = await call('POST', '/sessions/research/execute', 'B-operator', { agent: 'common@1.0.0' });
    expect(pinned.json<{ task: { agent: string } }>().task.agent).toBe('common@1.0.0');
  }, 60_000);
});

describe("a tenant's agents and the server's environment", () => {
  const secretYaml = (name: string, extra: string) => `apiVersion: warden.dev/v1
kind: Agent
metadata: { name: ${name}, version: 1.0.0 }
spec:
${extra}
  retry: { maxAttempts: 1 }
`;
  const envJs = Buffer.from(
    `process.stdout.write(JSON.stringify({ token: process.env.TENANT_TOKEN ?? null, db: process.env.SERVER_DB_URL ?? null }));`,
  ).toString('base64');

  // An outside audit: a tenant admin registered an agent naming the server's own variables as secrets
  // (DATABASE_URL, the installation's provider keys) and printed them.
  it('refuses secrets and LLM keys that WARDEN_TENANT_SECRETS does not list, and passes those it does', async () => {
    process.env['SERVER_DB_URL'] = 'postgres://installation-secret';
    process.env['TENANT_TOKEN'] = 'shared-with-tenants';
    try {
      const dumps = await call('POST', '/agents', 'A-admin', {
        manifest: secretYaml('envdump', '  runtime: node\n  entry: ./main.js\n  secrets: [SERVER_DB_URL]'),
        files: { 'main.js': envJs },
      });
      expect(dumps.statusCode, dumps.body).toBe(403);
      expect(dumps.json()).toMatchObject({
        error: { code: 'FORBIDDEN', details: { refused: ['SERVER_DB_URL'] } },
      });
      for (const model of [
        '{ provider: openai, model: gpt-4o-mini, baseUrl: "http://127.0.0.1:9/v1", apiKeyEnv: SERVER_DB_URL }',
        '{ provider: anthropic, model: claude-3-5-haiku-latest, baseUrl: "http://127.0.0.1:9" }',
      ]) {
        const llm = await call('POST', '/agents', 'A-admin', {
          manifest: secretYaml('keythief', `  runtime: llm\n  model: ${model}\n  prompt: hi`),
        });
        expect(llm.statusCode, llm.body).toBe(403);
      }
      process.env['WARDEN_TENANT_SECRETS'] = 'TENANT_TOKEN';
      const listed = await call('POST', '/agents', 'A-admin', {
        manifest: secretYaml('tokenuser', '  runtime: node\n  entry: ./main.js\n  secrets: [TENANT_TOKEN]'),
        files: { 'main.js': envJs },
      });
      expect(listed.statusCode, listed.body).toBe(201);
      const run = await call('POST', '/sessions/research/execute?wait=15000', 'A-operator', {
        agent: 'tokenuser',
      });
      expect(run.json<{ result: { output: unknown } }>().result.output).toEqual({
        token: 'shared-with-tenants',
        db: null,
      });
      // The installation's own agents read what they name.
      const own = await call('POST', '/agents', 'installation', {
        manifest: secretYaml('installed', '  runtime: node\n  entry: ./main.js\n  secrets: [SERVER_DB_URL]'),
        files: { 'main.js': envJs },
      });
      expect(own.statusCode, own.body).toBe(201);
    } finally {
      delete process.env['SERVER_DB_URL'];
      delete process.env['TENANT_TOKEN'];
      delete process.env['WARDEN_TENANT_SECRETS'];
    }
  }, 60_000);
});

describe('migration 0005 (agents get a tenant)', () => {
  it('keeps versions registered before it in the default tenant, unshared until shared again', async () => {
    const { Kysely, Migrator, SqliteDialect, sql } = await import('kysely');
    const { default: Sqlite } = await import('better-sqlite3');
    const dir = mkdtempSync(join(tmpdir(), 'warden-migration-'));
    try {
      // A database as the previous release left it: migrations 0001-0004 and one registered agent.
      const db = new Kysely<unknown>({
        dialect: new SqliteDialect({ database: new Sqlite(join(dir, 'warden.db')) }),
      });
      const migrations = {
        '0001-initial': await import('../src/store/migrations/0001-initial.js'),
        '0002-tree-heads': await import('../src/store/migrations/0002-tree-heads.js'),
        '0003-governance': await import('../src/store/migrations/0003-governance.js'),
        '0004-api': await import('../src/store/migrations/0004-api.js'),
      };
      const migrated = await new Migrator({
        db,
        provider: { getMigrations: async () => migrations },
        migrationTableName: 'warden_migrations',
        migrationLockTableName: 'warden_migrations_lock',
      }).migrateToLatest();
      expect(migrated.error).toBeUndefined();
      const manifest = {
        name: 'legacy',
        version: '1.0.0',
        runtime: 'inline',
        capabilities: [],
        resources: { timeoutMs: 30_000, memoryMb: 256, maxOutputBytes: 1_048_576 },
        network: { allow: [] },
        env: {},
        secrets: [],
        concurrency: 4,
        retry: { maxAttempts: 3, baseMs: 1000, maxMs: 60_000 },
        circuitBreaker: { failureThreshold: 5, cooldownMs: 30_000 },
      };
      await sql`INSERT INTO agents (key, name, version, runtime, concurrency, manifest, module_digest, created_at)
        VALUES ('legacy@1.0.0', 'legacy', '1.0.0', 'inline', 4, ${JSON.stringify(manifest)}, NULL, 1)`.execute(
        db,
      );
      await db.destroy();

      const w = await Warden.open({ storage: { root: dir }, workers: false }); // migrates to 0005
      try {
        const record = await w.store.getAgent('legacy@1.0.0');
        expect(record).toMatchObject({ tenant: 'default', shared: false });
        const acme = await w.ensureSession({ name: 'work', tenant: 'acme' });
        await expect(w.submit({ agent: 'legacy', session: acme.id })).rejects.toMatchObject({
          code: 'AGENT_NOT_FOUND',
        });
        expect((await w.submit({ agent: 'legacy' })).agent).toBe('legacy@1.0.0'); // the default tenant's
        // Registering the same version again as shared makes it every tenant's.
        await w.store.putAgent(record!.manifest, null, Date.now(), { shared: true });
        expect((await w.submit({ agent: 'legacy', session: acme.id })).agent).toBe('legacy@1.0.0');
      } finally {
        await w.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
