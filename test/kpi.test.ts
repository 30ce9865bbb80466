import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildServer, createApiKey } from '../src/api/index.js';
import { sha256Hex } from '../src/provenance/index.js';
import { Warden, type ResourceUsage, type SubmitReceipt } from '../src/index.js';
import { openSqliteStore, sqliteNodeKey, type Finish, type Store } from '../src/store/index.js';
import type { AgentKpi } from '../src/warden/index.js';
import { openWarden, tempDir } from './helpers.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from './scale-out/pg.js';
import { T0, claimReq, flag, id, manifest, session, task } from './store-contract/contract.js';
import { freshDatabase, openPgStore } from './store-contract/pg-db.js';

// KPIs per agent version and user feedback (docs/kpi.md): the store's figures against hand-counted ones on
// both backends, then the facade's rules, the HTTP routes (tenants) and the CLI through the built dist/.

const pgOk = await requirePostgres('the PostgreSQL KPI tests');

const usage = (wallMs: number, costUsd?: number): ResourceUsage => ({
  wallMs,
  cpuMs: 1,
  peakMemoryBytes: 0,
  outputBytes: 1,
  ...(costUsd !== undefined
    ? {
        llm: {
          provider: 'openai',
          model: 'm',
          promptTokens: 1,
          completionTokens: 1,
          costUsd,
          timeToFirstTokenMs: null,
          finishReason: 'stop',
        },
      }
    : {}),
});

type Claimed = { id: string; sessionId: string; agentKey: string; attempt: number };
const base = (c: Claimed, u: ResourceUsage | null, now = T0 + 2000) => ({
  taskId: c.id,
  sessionId: c.sessionId,
  agentKey: c.agentKey,
  owner: 'w1',
  attempt: c.attempt,
  now,
  usage: u,
});
const ok = (c: Claimed, u: ResourceUsage | null): Finish => ({
  ...base(c, u),
  kind: 'succeeded',
  outputJson: '{}',
  outputDigest: sha256Hex('{}'),
});
const error = (code: string) => ({ code, message: code, retryable: false }) as never;

/**
 * The hand-counted scenario. alpha@1.0.0 in the default tenant's session s1: tasks 1-6 succeed in 10..60 ms
 * (1 and 2 cost $0.01 and $0.02; 3 is flagged on input, 4 on output), 7 is quarantined (70 ms), 8 dies
 * without usage, 9 dies after 80 ms, 10 fails (deadline) without usage, 11 is cancelled, 12 stays queued.
 * Task 13 runs alpha@1.0.0 in tenant acme's session (5000 ms). alpha@2.0.0 and beta never ran.
 */
async function scenario(store: Store) {
  const s1 = session(1);
  const s2 = { ...session(2), tenant: 'acme' };
  await store.createSession(s1);
  await store.createSession(s2);
  const a1 = (await store.putAgent(manifest('alpha'), null, T0)).key;
  const a2 = (await store.putAgent(manifest('alpha', 100, '2.0.0'), null, T0)).key;
  const b = (await store.putAgent(manifest('beta'), null, T0)).key;
  await store.submit([
    ...[1, 2, 4, 5, 6, 7, 8, 9, 10, 11].map((n) => task(n, s1, a1)),
    task(3, s1, a1, { flags: [flag(1, s1, id(3), a1)] }),
    task(13, s2, a1),
  ]);
  await store.cancel(id(11), T0 + 500);
  const { claimed } = await store.claim(claimReq({ runnable: [a1], limit: 50 }));
  expect(claimed).toHaveLength(11);
  const c = (n: number) => claimed.find((x) => x.id === id(n))!;
  await store.finish(
    [
      ok(c(1), usage(10, 0.01)),
      ok(c(2), usage(20, 0.02)),
      ok(c(3), usage(30)),
      { ...ok(c(4), usage(40)), flags: [{ ...flag(2, s1, id(4), a1), stage: 'output' }] },
      ok(c(5), usage(50)),
      ok(c(6), usage(60)),
      {
        ...base(c(7), usage(70)),
        kind: 'quarantined',
        outputJson: '{}',
        outputDigest: sha256Hex('{}'),
        error: error('GOVERNANCE_BLOCKED'),
      },
      { ...base(c(8), null), kind: 'dead', error: error('AGENT_FAILED') },
      { ...base(c(9), usage(80)), kind: 'dead', error: error('AGENT_FAILED') },
      { ...base(c(10), null), kind: 'failed', error: error('DEADLINE_EXCEEDED') },
      ok(c(13), usage(5000)),
    ],
    [],
  );
  await store.submit([task(12, s1, a1)]);
  return { s1, s2, a1, a2, b };
}

const zeros = (agent: string, name: string, version: string): AgentKpi => ({
  agent,
  name,
  version,
  finished: 0,
  succeeded: 0,
  failed: 0,
  quarantined: 0,
  successRate: null,
  latencyMs: { p50: null, p95: null },
  costUsd: 0,
  flaggedTasks: 0,
  reward: { count: 0, mean: null },
});

function storeKpis(name: string, open: () => Promise<Store>, skip = false): void {
  describe.skipIf(skip)(`KPIs in the store: ${name}`, () => {
    let store: Store;
    let ids: Awaited<ReturnType<typeof scenario>>;
    // A fresh store per test (the data directory of a SQLite one lives as long as its test).
    beforeEach(async () => {
      store = await open();
      ids = await scenario(store);
    });
    afterEach(async () => {
      await store?.close();
    });

    it('counts finished tasks, percentiles, cost and flags as counted by hand, per tenant', async () => {
      const { a1, a2, b } = ids;
      const mine = await store.agentKpis({ agentKeys: [a1, a2], tenant: 'default' });
      expect(mine).toEqual([
        {
          ...zeros(a1, 'alpha', '1.0.0'),
          finished: 10,
          succeeded: 6,
          failed: 3,
          quarantined: 1,
          successRate: 0.6,
          // 10..80 ms, eight samples: rank 3.5 and rank 6.65, interpolated.
          latencyMs: { p50: 45, p95: expect.closeTo(76.5, 9) },
          costUsd: expect.closeTo(0.03, 12),
          flaggedTasks: 2,
        },
        zeros(a2, 'alpha', '2.0.0'),
      ]);
      // Without a tenant: acme's task too (nine samples: rank 4 and rank 7.6).
      const all = await store.agentKpis({});
      expect(all.map((k) => k.agent)).toEqual([a1, a2, b]);
      expect(all[0]).toMatchObject({ finished: 11, succeeded: 7, latencyMs: { p50: 50 } });
      expect(all[0]!.latencyMs.p95).toBeCloseTo(80 + 0.6 * 4920, 9);
      expect(all[2]).toEqual(zeros(b, 'beta', '1.0.0'));
      expect(await store.agentKpis({ agentKeys: [] })).toEqual([]);
      expect(await store.agentKpis({ agentKeys: ['nobody@1.0.0'] })).toEqual([]);
      // Tasks submitted from T0 + 7 on: 7 (quarantined), 8, 9 (dead), 10 (failed).
      expect(await store.agentKpis({ agentKeys: [a1], since: T0 + 7, tenant: 'default' })).toEqual([
        {
          ...zeros(a1, 'alpha', '1.0.0'),
          finished: 4,
          failed: 3,
          quarantined: 1,
          successRate: 0,
          latencyMs: { p50: 75, p95: expect.closeTo(79.5, 9) },
        },
      ]);
    });

    it('upserts feedback (a later score replaces the earlier), checks its task, and records it in the chain', async () => {
      const { a1, s1 } = ids;
      await store.putFeedback({ taskId: id(1), agentKey: a1, score: 0.5, createdAt: T0 + 3000 });
      await store.putFeedback({ taskId: id(2), agentKey: a1, score: 1, createdAt: T0 + 3001, via: 'api' });
      await store.putFeedback({
        taskId: id(1),
        agentKey: a1,
        score: 0.9,
        comment: 'better on reflection',
        createdAt: T0 + 3002,
        via: 'cli',
      });
      await store.putFeedback({ taskId: id(13), agentKey: a1, score: 0.1, createdAt: T0 + 3003 });
      const [mine] = await store.agentKpis({ agentKeys: [a1], tenant: 'default' });
      expect(mine!.reward.count).toBe(2);
      expect(mine!.reward.mean).toBeCloseTo(0.95, 12);
      const [all] = await store.agentKpis({ agentKeys: [a1] });
      expect(all!.reward.count).toBe(3);
      expect(all!.reward.mean).toBeCloseTo(2 / 3, 12);

      await expect(
        store.putFeedback({ taskId: id(12), agentKey: a1, score: 1, createdAt: T0 + 4000 }),
      ).rejects.toMatchObject({ code: 'INVALID_STATE' });
      await expect(
        store.putFeedback({ taskId: id(99), agentKey: a1, score: 1, createdAt: T0 + 4000 }),
      ).rejects.toMatchObject({ code: 'TASK_NOT_FOUND' });
      await expect(
        store.putFeedback({ taskId: id(1), agentKey: 'beta@1.0.0', score: 1, createdAt: T0 + 4000 }),
      ).rejects.toMatchObject({ code: 'INVALID_INPUT' });

      const records = (await store.readChain(s1.id))
        .map(
          (l) =>
            JSON.parse(l.recordJson) as { type: string; taskId?: string; data?: Record<string, unknown> },
        )
        .filter((r) => r.type === 'task.feedback');
      expect(records.map((r) => [r.taskId, r.data?.['score'], r.data?.['via']])).toEqual([
        [id(1), 0.5, 'library'],
        [id(2), 1, 'api'],
        [id(1), 0.9, 'cli'],
      ]);
      // The comment is named by its digest; its text stays out of the chain.
      expect(records[2]!.data?.['commentDigest']).toBe(sha256Hex('better on reflection'));
      expect(JSON.stringify(records)).not.toContain('reflection');
      expect((await store.verifyChain(s1.id)).ok).toBe(true);
    });
  });
}

storeKpis('SQLite', async () => {
  const path = join(tempDir(), 'warden.db');
  return openSqliteStore({ path, signIntervalMs: 0 }, sqliteNodeKey(path));
});

const storeDbs: Awaited<ReturnType<typeof freshDatabase>>[] = [];
afterAll(async () => {
  for (const db of storeDbs) await db.drop();
});
storeKpis(
  'PostgreSQL',
  async () => {
    const db = await freshDatabase();
    storeDbs.push(db);
    return openPgStore({ url: db.url, keyDir: join(tempDir(), 'keys'), signIntervalMs: 0 });
  },
  !pgOk,
);

/** A directory for a whole describe block (tempDir's go after each test), removed after the file. */
const suiteDirs: string[] = [];
function suiteDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'warden-kpi-'));
  chmodSync(dir, 0o755);
  suiteDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of suiteDirs) rmSync(dir, { recursive: true, force: true });
});

// ---- the facade ----------------------------------------------------------------------------------

/** Inline agents: good (echoes), bad (always fails, no retry), and held (waits until released). */
async function agents(warden: Warden) {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  await warden.registerHandler('good', (i: unknown) => i);
  await warden.registerHandler(
    'bad',
    () => {
      throw new Error('always fails');
    },
    { retry: { maxAttempts: 1 }, circuitBreaker: { failureThreshold: 1000 } },
  );
  await warden.registerHandler('held', async () => {
    await released;
    return {};
  });
  return { release };
}

async function finished(warden: Warden, tasks: SubmitReceipt[]): Promise<void> {
  for (const t of tasks) expect(await warden.result(t, { timeoutMs: 10_000 })).toBeDefined();
}

function facadeSuite(name: string, open: () => Promise<Warden>, skip = false): void {
  describe.skipIf(skip)(`Warden.agentKpis and Warden.feedback: ${name}`, () => {
    it('reports what ran, validates feedback, and hides other tenants', async () => {
      const warden = await open();
      const { release } = await agents(warden);
      const good = await Promise.all([1, 2, 3].map((n) => warden.submit({ agent: 'good', input: { n } })));
      const bad = await Promise.all([1, 2].map(() => warden.submit({ agent: 'bad', input: {} })));
      const held = await warden.submit({ agent: 'held', input: {} });
      await finished(warden, [...good, ...bad]);

      expect(await warden.feedback(good[0]!.id, { score: 0.8 })).toEqual({
        taskId: good[0]!.id,
        agent: 'good@1.0.0',
        score: 0.8,
      });
      await warden.feedback(good[1]!.id, { score: 0, comment: 'wrong' });
      const [g] = await warden.agentKpis({ agent: 'good' });
      expect(g).toMatchObject({
        agent: 'good@1.0.0',
        finished: 3,
        succeeded: 3,
        successRate: 1,
        reward: { count: 2, mean: 0.4 },
        flaggedTasks: 0,
        costUsd: 0,
      });
      expect(g!.latencyMs.p50).toEqual(expect.any(Number));
      expect(g!.latencyMs.p95!).toBeGreaterThanOrEqual(g!.latencyMs.p50!);
      expect(await warden.agentKpis({ agent: 'bad@1.0.0' })).toMatchObject([
        { finished: 2, succeeded: 0, failed: 2, successRate: 0 },
      ]);
      // The held task is running: not counted, and not yet open to feedback.
      expect(await warden.agentKpis({ agent: 'held' })).toMatchObject([{ finished: 0, successRate: null }]);
      expect((await warden.agentKpis()).map((k) => k.agent)).toEqual(
        expect.arrayContaining(['good@1.0.0', 'bad@1.0.0', 'held@1.0.0']),
      );
      await expect(warden.agentKpis({ agent: 'nope' })).rejects.toMatchObject({ code: 'AGENT_NOT_FOUND' });
      // Another tenant sees neither the versions nor the tasks.
      await expect(warden.agentKpis({ agent: 'good', tenant: 'acme' })).rejects.toMatchObject({
        code: 'AGENT_NOT_FOUND',
      });

      for (const score of [1.5, -0.1, Number.NaN, Number.POSITIVE_INFINITY, '0.5', null, undefined])
        await expect(
          warden.feedback(good[2]!.id, { score } as unknown as { score: number }),
          String(score),
        ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(
        warden.feedback(good[2]!.id, { score: 1, comment: 'x'.repeat(5000) }),
      ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(warden.feedback(held.id, { score: 1 })).rejects.toMatchObject({ code: 'INVALID_STATE' });
      await expect(warden.feedback('no-such-task', { score: 1 })).rejects.toMatchObject({
        code: 'TASK_NOT_FOUND',
      });
      await expect(warden.feedback(good[2]!.id, { score: 1 }, { tenant: 'acme' })).rejects.toMatchObject({
        code: 'TASK_NOT_FOUND',
      });
      expect((await warden.agentKpis({ agent: 'good' }))[0]!.reward.count).toBe(2);

      release();
      await finished(warden, [held]);
      await warden.feedback(held.id, { score: 1 });
      expect((await warden.agentKpis({ agent: 'held' }))[0]).toMatchObject({
        finished: 1,
        reward: { count: 1, mean: 1 },
      });
      expect((await warden.verify('default')).ok).toBe(true);
    });
  });
}

facadeSuite('SQLite', () => openWarden({ workers: { concurrency: 4 } }));

let facadeDb: TestDatabase | undefined;
const pgWardens: Warden[] = [];
afterAll(async () => {
  for (const w of pgWardens) await w.close().catch(() => undefined);
  await facadeDb?.drop();
});
facadeSuite(
  'PostgreSQL',
  async () => {
    facadeDb = await createTestDatabase();
    const w = await Warden.open({
      storage: { root: tempDir(), postgres: facadeDb.url },
      workers: { concurrency: 4 },
    });
    pgWardens.push(w);
    return w;
  },
  !pgOk,
);

// ---- the HTTP API ------------------------------------------------------------------------------------

describe('GET /agents/:agent/kpi and POST /tasks/:id/feedback', () => {
  let warden: Warden;
  let app: FastifyInstance;
  let done: SubmitReceipt[];
  let running: SubmitReceipt;
  let release: () => void;
  const key: Record<string, string> = {};
  beforeAll(async () => {
    warden = await Warden.open({ storage: { root: suiteDir() }, workers: { concurrency: 4 } });
    ({ release } = await agents(warden));
    done = await Promise.all([1, 2].map((n) => warden.submit({ agent: 'good', input: { n } })));
    done.push(await warden.submit({ agent: 'bad', input: {} }));
    running = await warden.submit({ agent: 'held', input: {} });
    await finished(warden, done);
    app = await buildServer(warden, { logger: false, rateLimit: false });
    for (const [who, tenant, role] of [
      ['viewer', 'default', 'viewer'],
      ['operator', 'default', 'operator'],
      ['acme', 'acme', 'admin'],
    ] as const)
      key[who] = (await createApiKey(warden.store, { tenant, role, name: who })).key;
  });
  afterAll(async () => {
    release?.();
    await app?.close();
    await warden?.close();
  });
  const call = (method: 'GET' | 'POST', url: string, who: string, payload?: object) =>
    app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${key[who]}` },
      ...(payload ? { payload } : {}),
    });

  it('scores a finished task with the operator role, and refuses what it must', async () => {
    const url = `/tasks/${done[0]!.id}/feedback`;
    expect((await call('POST', url, 'viewer', { score: 0.7 })).statusCode).toBe(403);
    const res = await call('POST', url, 'operator', { score: 0.7, comment: 'fine' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ taskId: done[0]!.id, agent: 'good@1.0.0', score: 0.7 });
    for (const body of [{ score: 2 }, { score: -1 }, { score: '0.5' }, {}, { score: 0.5, extra: 1 }]) {
      const bad = await call('POST', url, 'operator', body);
      expect(bad.statusCode, JSON.stringify(body)).toBe(400);
      expect(bad.json()).toMatchObject({ error: { code: 'INVALID_INPUT' } });
    }
    const runningRes = await call('POST', `/tasks/${running.id}/feedback`, 'operator', { score: 1 });
    expect(runningRes.statusCode).toBe(409);
    expect(runningRes.json()).toMatchObject({ error: { code: 'INVALID_STATE' } });
    // Another tenant's task answers exactly as a missing one.
    const foreign = await call('POST', url, 'acme', { score: 0 });
    const missing = await call('POST', '/tasks/not-a-task/feedback', 'acme', { score: 0 });
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json().error.code).toBe('TASK_NOT_FOUND');
    expect(missing.json().error.code).toBe(foreign.json().error.code);
    expect(foreign.body.replaceAll(done[0]!.id, 'X')).toBe(missing.body.replaceAll('not-a-task', 'X'));
  });

  it("reports a tenant's visible versions, 404 for others", async () => {
    const res = await call('GET', '/agents/good/kpi', 'viewer');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().versions).toEqual([
      expect.objectContaining({
        agent: 'good@1.0.0',
        name: 'good',
        version: '1.0.0',
        finished: 2,
        succeeded: 2,
        failed: 0,
        successRate: 1,
        flaggedTasks: 0,
        costUsd: 0,
        reward: { count: 1, mean: 0.7 },
        latencyMs: { p50: expect.any(Number), p95: expect.any(Number) },
      }),
    ]);
    expect((await call('GET', '/agents/bad@1.0.0/kpi', 'viewer')).json().versions[0]).toMatchObject({
      finished: 1,
      failed: 1,
      successRate: 0,
      // A failed run reports no usage: latency is that of the runs that returned.
      latencyMs: { p50: null, p95: null },
    });
    const later = await call('GET', `/agents/good/kpi?since=${Date.now() + 60_000}`, 'viewer');
    expect(later.json().versions[0]).toMatchObject({ finished: 0, successRate: null, reward: { count: 0 } });
    expect((await call('GET', '/agents/good/kpi?since=yesterday', 'viewer')).statusCode).toBe(400);
    for (const who of ['viewer', 'acme']) {
      const none = await call('GET', `/agents/${who === 'acme' ? 'good' : 'nope'}/kpi`, who);
      expect(none.statusCode).toBe(404);
      expect(none.json()).toMatchObject({ error: { code: 'AGENT_NOT_FOUND' } });
    }
    expect((await app.inject({ method: 'GET', url: '/agents/good/kpi' })).statusCode).toBe(401);
  });

  it('documents both routes in the OpenAPI document', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, Record<string, { operationId: string }>>;
    }>();
    expect(doc.paths['/agents/{agent}/kpi']?.['get']?.operationId).toBe('getAgentKpi');
    expect(doc.paths['/tasks/{id}/feedback']?.['post']?.operationId).toBe('putTaskFeedback');
  });
});

// ---- the CLI, through the built dist/ ----------------------------------------------------------------

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'warden.js');

function cli(data: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['STORAGE_ROOT'];
  return new Promise((done) => {
    execFile(
      process.execPath,
      [BIN, '--data', data, ...args],
      { cwd: ROOT, env, timeout: 20_000, encoding: 'utf8' },
      (err, stdout, stderr) =>
        done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

describe('warden agents kpi and warden feedback', () => {
  let data: string;
  let ids: string[];
  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'commands', 'kpi.js')))
      execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
    data = suiteDir();
    const warden = await Warden.open({ storage: { root: data }, workers: { concurrency: 4 } });
    try {
      const { release } = await agents(warden);
      release();
      const tasks = [
        ...(await Promise.all([1, 2, 3].map((n) => warden.submit({ agent: 'good', input: { n } })))),
        await warden.submit({ agent: 'bad', input: {} }),
      ];
      await finished(warden, tasks);
      ids = tasks.map((t) => t.id);
    } finally {
      await warden.close();
    }
  }, 180_000);

  it('scores tasks and prints the KPI table and JSON', async () => {
    const scored = await cli(data, 'feedback', ids[0]!, '--score', '0.8', '--comment', 'nice');
    expect(scored.code, scored.stderr).toBe(0);
    expect(scored.stdout).toBe(`${ids[0]}: score 0.8 recorded for good@1.0.0\n`);
    const json = await cli(data, '--json', 'feedback', ids[1]!, '--score', '0.4');
    expect(JSON.parse(json.stdout)).toEqual({ taskId: ids[1], agent: 'good@1.0.0', score: 0.4 });

    const kpis = await cli(data, '--json', 'agents', 'kpi', 'good');
    expect(kpis.code, kpis.stderr).toBe(0);
    const [good] = JSON.parse(kpis.stdout) as AgentKpi[];
    expect(good).toMatchObject({ agent: 'good@1.0.0', finished: 3, successRate: 1, reward: { count: 2 } });
    expect(good!.reward.mean).toBeCloseTo(0.6, 12);

    const table = await cli(data, 'agents', 'kpi');
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^VERSION\s+FINISHED\s+SUCCESS\s+P50 MS\s+P95 MS\s+COST USD\s+FLAGGED\s+REWARD$/,
    );
    expect(lines.find((l) => l.startsWith('good@1.0.0'))).toMatch(
      /^good@1\.0\.0\s+3\s+100\.0%\s+\S+\s+\S+\s+0\.0000\s+0\s+0\.60 \(2\)$/,
    );
    expect(lines.find((l) => l.startsWith('bad@1.0.0'))).toMatch(/^bad@1\.0\.0\s+1\s+0\.0%\s/);
    expect(lines.find((l) => l.startsWith('held@1.0.0'))).toMatch(/^held@1\.0\.0\s+0\s+-\s+-\s+-\s/);
  });

  it('exits 2 with INVALID_INPUT for a bad score and 1 for an unknown task or agent', async () => {
    for (const score of ['1.5', 'abc', '-0.2', '']) {
      const r = await cli(data, '--json', 'feedback', ids[2]!, '--score', score);
      expect(r.code, score).toBe(2);
      expect(JSON.parse(r.stderr)).toMatchObject({ error: { code: 'INVALID_INPUT' } });
    }
    const missing = await cli(data, 'feedback', 'no-such-task', '--score', '1');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/TASK_NOT_FOUND/);
    const nope = await cli(data, 'agents', 'kpi', 'nope');
    expect(nope.code).toBe(1);
    expect(nope.stderr).toMatch(/AGENT_NOT_FOUND/);
  });
});
