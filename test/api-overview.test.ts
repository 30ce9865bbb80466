import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { v7 as uuidv7 } from 'uuid';
import { buildServer, createApiKey } from '../src/api/index.js';
import { Warden, type SubmitReceipt, type TenantOverview } from '../src/index.js';
import { P50, P95, percentileCont } from '../src/store/kpi-rows.js';
import { uuidV7Floor } from '../src/store/overview-rows.js';
import { eventually, sleep } from './helpers.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from './scale-out/pg.js';

// GET /stats/overview (the dashboard's Overview page) on both backends: each finished task lands in the
// bucket of its finish with its end state, per-bucket latency percentiles match the ones computed from the
// tasks, the queue counts by priority, breakers and flags are the key's tenant's only, and the query's
// bounds hold.

const pgOk = await requirePostgres('the PostgreSQL overview tests');

/** A directory for a whole suite (helpers' tempDir goes after each test), removed after the file. */
const dirs: string[] = [];
function suiteDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'warden-overview-'));
  chmodSync(dir, 0o755);
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const ACME = 'acme';
const GLOBEX = 'globex';

interface Fixture {
  warden: Warden;
  app: FastifyInstance;
  key: { acme: string; globex: string };
  acmeTasks: SubmitReceipt[];
  release: () => void;
}

/** Inline agents, sessions, keys, and acme's and globex's tasks: finished, dead, cancelled, queued, running. */
async function populate(warden: Warden): Promise<Fixture> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  await warden.registerHandler(
    'good',
    async (i: { ms: number }) => {
      await sleep(i.ms);
      return i;
    },
    { shared: true },
  );
  // Dead at its first failure; the third consecutive one opens its breaker (shared: acme may see it).
  await warden.registerHandler(
    'bad',
    () => {
      throw new Error('always fails');
    },
    { shared: true, retry: { maxAttempts: 1 }, circuitBreaker: { failureThreshold: 3, cooldownMs: 600_000 } },
  );
  // One at a time per session: the first runs (until released), the others wait in the queue.
  await warden.registerHandler(
    'held',
    async () => {
      await released;
      return {};
    },
    { tenant: ACME, concurrency: 1 },
  );
  // globex's own: its open breaker is none of acme's business.
  await warden.registerHandler(
    'globex-bad',
    () => {
      throw new Error('always fails');
    },
    {
      tenant: GLOBEX,
      retry: { maxAttempts: 1 },
      circuitBreaker: { failureThreshold: 1, cooldownMs: 600_000 },
    },
  );
  const app = await buildServer(warden, { logger: false, rateLimit: false });
  const key = {
    acme: (await createApiKey(warden.store, { tenant: ACME, role: 'viewer', name: 'acme-viewer' })).key,
    globex: (await createApiKey(warden.store, { tenant: GLOBEX, role: 'admin', name: 'globex-admin' })).key,
  };
  const acmeMain = await warden.ensureSession({ name: 'main', tenant: ACME });
  const acmeQueue = await warden.ensureSession({ name: 'queue', tenant: ACME });
  const globexMain = await warden.ensureSession({ name: 'main', tenant: GLOBEX });

  const acmeTasks: SubmitReceipt[] = [];
  for (let n = 0; n < 6; n++)
    acmeTasks.push(await warden.submit({ session: acmeMain.id, agent: 'good', input: { ms: 5 + 20 * n } }));
  for (let n = 0; n < 3; n++)
    acmeTasks.push(await warden.submit({ session: acmeMain.id, agent: 'bad', input: {} }));
  const held = await warden.submit({ session: acmeQueue.id, agent: 'held', input: {} });
  acmeTasks.push(held);
  await eventually(async () => (await warden.getTask(held.id)).state === 'running', 10_000, 'held running');
  for (const priority of ['high', 'high', 'low', 'low', 'background'] as const)
    acmeTasks.push(await warden.submit({ session: acmeQueue.id, agent: 'held', input: {}, priority }));
  expect((await warden.cancel(acmeTasks.at(-2)!.id)).state).toBe('cancelled'); // one low one

  // globex: more load than acme, of every kind, none of which acme may see.
  const globexTasks: SubmitReceipt[] = [];
  for (let n = 0; n < 8; n++)
    globexTasks.push(await warden.submit({ session: globexMain.id, agent: 'good', input: { ms: 1 } }));
  globexTasks.push(await warden.submit({ session: globexMain.id, agent: 'globex-bad', input: {} }));
  for (const t of [...acmeTasks.slice(0, 9), ...globexTasks])
    expect(await warden.result(t, { timeoutMs: 10_000 })).toBeDefined();

  const now = Date.now();
  const acmeGood = await warden.getTask(acmeTasks[0]!.id);
  await warden.governance.flag(acmeGood, { type: 'Anomaly', severity: 3, reason: 'odd' }, now);
  await warden.governance.flag(acmeGood, { type: 'Jailbreak', severity: 7, reason: 'bad' }, now);
  // Two hours old: not in the last hour.
  await warden.governance.flag(acmeGood, { type: 'Anomaly', severity: 9, reason: 'old' }, now - 7_200_000);
  const globexGood = await warden.getTask(globexTasks[0]!.id);
  await warden.governance.flag(globexGood, { type: 'Unsafe', severity: 5, reason: 'theirs' }, now);
  return { warden, app, key, acmeTasks, release };
}

function suite(name: string, open: () => Promise<Warden>, skip = false): void {
  describe.skipIf(skip)(`GET /stats/overview: ${name}`, () => {
    let f: Fixture;
    beforeAll(async () => {
      f = await populate(await open());
    }, 60_000);
    afterAll(async () => {
      f?.release();
      await f?.app.close();
      await f?.warden.close();
    });

    const get = (url: string, key?: string) =>
      f.app.inject({ method: 'GET', url, headers: key ? { authorization: `Bearer ${key}` } : {} });

    it('counts the tenant’s tasks by the bucket they finished in, with their latency percentiles', async () => {
      const res = await get('/stats/overview?windowMinutes=15&bucketSeconds=10', f.key.acme);
      expect(res.statusCode).toBe(200);
      const o = res.json<TenantOverview>();
      expect(o.tenant).toBe(ACME);
      expect(o.bucketMs).toBe(10_000);
      expect(o.buckets).toHaveLength(90);
      expect(o.from % 10_000).toBe(0);
      o.buckets.forEach((b, i) => expect(b.start).toBe(o.from + i * 10_000));

      // What each bucket should hold, from the tasks themselves.
      const expected = new Map<number, { states: string[]; latencies: number[]; submitted: number }>();
      const at = (t: number) => {
        const i = Math.floor((t - o.from) / o.bucketMs);
        if (!expected.has(i)) expected.set(i, { states: [], latencies: [], submitted: 0 });
        return expected.get(i)!;
      };
      for (const r of f.acmeTasks) {
        const task = await f.warden.getTask(r.id);
        at(task.createdAt).submitted++;
        if (task.state === 'queued' || task.state === 'running') continue;
        const result = (await f.warden.result(r.id, { timeoutMs: 1000 }))!;
        at(result.finishedAt).states.push(task.state);
        if (task.state !== 'cancelled')
          at(result.finishedAt).latencies.push(result.finishedAt - task.createdAt);
      }
      o.buckets.forEach((b, i) => {
        const e = expected.get(i) ?? { states: [], latencies: [], submitted: 0 };
        const n = (s: string) => e.states.filter((x) => x === s).length;
        expect(b).toMatchObject({
          submitted: e.submitted,
          succeeded: n('succeeded'),
          failed: n('failed'),
          dead: n('dead'),
          cancelled: n('cancelled'),
          quarantined: 0,
        });
        const sorted = e.latencies.sort((x, y) => x - y);
        const p = (q: number) => percentileCont(sorted.length, q, (k) => sorted[k]);
        if (sorted.length === 0) expect(b.latencyMs).toEqual({ p50: null, p95: null });
        else {
          expect(b.latencyMs.p50).toBeCloseTo(p(P50)!, 6);
          expect(b.latencyMs.p95).toBeCloseTo(p(P95)!, 6);
        }
      });
      const total = (k: 'submitted' | 'succeeded' | 'dead' | 'cancelled' | 'failed') =>
        o.buckets.reduce((s, b) => s + b[k], 0);
      // acme's 15 only: globex's 9 are in none of the buckets.
      expect(total('submitted')).toBe(15);
      expect(total('succeeded')).toBe(6);
      expect(total('dead')).toBe(3);
      expect(total('cancelled')).toBe(1);
      expect(total('failed')).toBe(0);
      // The window's percentiles, over every finished task's latency (not the buckets' percentiles).
      const all = [...expected.values()].flatMap((e) => e.latencies).sort((x, y) => x - y);
      expect(all).toHaveLength(9);
      expect(o.totals).toMatchObject({ submitted: 15, succeeded: 6, dead: 3, cancelled: 1, failed: 0 });
      expect(o.totals.latencyMs.p50).toBeCloseTo(
        percentileCont(9, P50, (k) => all[k])!,
        6,
      );
      expect(o.totals.latencyMs.p95).toBeCloseTo(
        percentileCont(9, P95, (k) => all[k])!,
        6,
      );
    });

    it('shows the tenant’s queue by priority, its breakers and its flags of the last hour', async () => {
      const o = (await get('/stats/overview', f.key.acme)).json<TenantOverview>();
      expect(o.bucketMs).toBe(60_000);
      expect(o.buckets).toHaveLength(60);
      expect(o.queue).toEqual({
        queued: 4,
        running: 1,
        byPriority: { critical: 0, high: 2, normal: 0, low: 1, background: 1 },
      });
      expect(o.breakers).toEqual([
        expect.objectContaining({ agent: 'bad@1.0.0', state: 'open', consecutiveFailures: 3 }),
      ]);
      expect(o.governance).toEqual({
        flagsLastHour: 2,
        bySeverity: { '3': 1, '7': 1 },
        byType: { Anomaly: 1, Jailbreak: 1 },
      });
    });

    it('shows another tenant its own figures and nothing of acme’s', async () => {
      const o = (
        await get('/stats/overview?windowMinutes=60&bucketSeconds=60', f.key.globex)
      ).json<TenantOverview>();
      expect(o.tenant).toBe(GLOBEX);
      const sum = (k: 'submitted' | 'succeeded' | 'dead') => o.buckets.reduce((s, b) => s + b[k], 0);
      expect([sum('submitted'), sum('succeeded'), sum('dead')]).toEqual([9, 8, 1]);
      expect(o.queue).toEqual({
        queued: 0,
        running: 0,
        byPriority: { critical: 0, high: 0, normal: 0, low: 0, background: 0 },
      });
      expect(o.breakers.map((b) => b.agent).sort()).toEqual(['bad@1.0.0', 'globex/globex-bad@1.0.0'].sort());
      expect(o.governance.flagsLastHour).toBe(1);
      expect(o.governance.byType).toEqual({ Unsafe: 1 });
    });

    it.each([
      ['windowMinutes=4', 'the window must be from 5 to 1440 minutes'],
      ['windowMinutes=1441', 'the window must be from 5 to 1440 minutes'],
      ['bucketSeconds=9', 'a bucket must be from 10 to 3600 seconds'],
      ['bucketSeconds=3601', 'a bucket must be from 10 to 3600 seconds'],
      ['windowMinutes=1440&bucketSeconds=60', 'at most 300 buckets'],
      ['windowMinutes=60&bucketSeconds=11', 'at most 300 buckets'],
      ['windowMinutes=ten', 'windowMinutes'],
      ['windowMinutes=-5', 'windowMinutes'],
      ['since=0', 'since'],
    ])('refuses %s with 400 INVALID_INPUT', async (query, message) => {
      const res = await get(`/stats/overview?${query}`, f.key.acme);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: 'INVALID_INPUT' } });
      expect(res.body).toContain(message);
    });

    it.each([
      ['windowMinutes=1440&bucketSeconds=300', 288],
      ['windowMinutes=5&bucketSeconds=10', 30],
      ['windowMinutes=5&bucketSeconds=3600', 1],
    ])('accepts %s (%i buckets)', async (query, n) => {
      const res = await get(`/stats/overview?${query}`, f.key.acme);
      expect(res.statusCode).toBe(200);
      expect(res.json<TenantOverview>().buckets).toHaveLength(n);
    });

    it('answers 401 without a key', async () => {
      const res = await get('/stats/overview');
      expect(res.statusCode).toBe(401);
    });
  });
}

suite('SQLite', () => Warden.open({ storage: { root: suiteDir() }, workers: { concurrency: 8 } }));

let db: TestDatabase | undefined;
afterAll(async () => {
  await db?.drop();
});
suite(
  'PostgreSQL',
  async () => {
    db = await createTestDatabase();
    return Warden.open({ storage: { root: suiteDir(), postgres: db.url }, workers: { concurrency: 8 } });
  },
  !pgOk,
);

describe('uuidV7Floor', () => {
  it('bounds the ids minted at or after a millisecond from below, and those before it from above', () => {
    for (const ms of [0, 1, 1_700_000_000_000, Date.now(), 2 ** 48 - 1]) {
      const floor = uuidV7Floor(ms);
      expect(floor).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-0000-0000-000000000000$/);
      const id = uuidv7({ msecs: ms });
      expect(id >= floor).toBe(true);
      if (ms > 0) expect(uuidv7({ msecs: ms - 1 }) < floor).toBe(true);
    }
  });
});
