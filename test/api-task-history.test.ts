import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { buildServer, createApiKey } from '../src/api/index.js';
import { Warden, WardenError } from '../src/index.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from './scale-out/pg.js';

interface HistoryBody {
  records: { seq: number; type: string; at: number; attempt: number | null; data: Record<string, unknown> }[];
  complete: boolean;
}

/** A server on `warden` with keys of two tenants, a handler that fails its first attempt, and a session. */
async function setUp(warden: Warden) {
  const app: FastifyInstance = await buildServer(warden, { logger: false, rateLimit: false });
  const key = {
    viewer: (await createApiKey(warden.store, { tenant: 'acme', role: 'viewer', name: 'v' })).key,
    operator: (await createApiKey(warden.store, { tenant: 'acme', role: 'operator', name: 'o' })).key,
    other: (await createApiKey(warden.store, { tenant: 'globex', role: 'admin', name: 'g' })).key,
  };
  let calls = 0;
  await warden.registerHandler(
    'flaky',
    () => {
      if (++calls % 2 === 1) throw new WardenError('AGENT_FAILED', 'first attempt fails');
      return { calls };
    },
    { tenant: 'acme', retry: { maxAttempts: 3, baseMs: 1, maxMs: 1 } },
  );
  await warden.registerHandler('noop', () => null, { tenant: 'acme' });
  const call = (who: keyof typeof key, method: 'GET' | 'POST', url: string, body?: object) =>
    app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${key[who]}` },
      ...(body ? { payload: body } : {}),
    });
  return { app, call };
}

/** The same checks on each backend: the route reads the store's chain, backwards, through the facade. */
function historySuite(open: () => Promise<Warden>) {
  let warden: Warden;
  let ctx: Awaited<ReturnType<typeof setUp>>;
  let noopId = '';

  it('lists a retried task’s records in chain order, each attempt with its outcome', async () => {
    warden = await open();
    ctx = await setUp(warden);
    expect((await ctx.call('operator', 'POST', '/sessions', { name: 'work' })).statusCode).toBe(201);
    const submitted = await ctx.call('operator', 'POST', '/sessions/work/execute?wait=10000', {
      agent: 'flaky',
      input: { n: 1 },
    });
    expect(submitted.statusCode).toBe(200);
    const { task } = submitted.json<{ task: { id: string; state: string } }>();
    expect(task.state).toBe('succeeded');
    // Records of a later task must not show up.
    const later = await ctx.call('operator', 'POST', '/sessions/work/execute?wait=10000', { agent: 'noop' });
    noopId = later.json<{ task: { id: string } }>().task.id;

    const res = await ctx.call('viewer', 'GET', `/tasks/${task.id}/history`);
    expect(res.statusCode).toBe(200);
    const body = res.json<HistoryBody>();
    expect(body.complete).toBe(true);
    expect(body.records.map((r) => [r.type, r.attempt])).toEqual([
      ['task.submitted', null],
      ['task.started', 1],
      ['task.attempt_failed', 1],
      ['task.started', 2],
      ['task.succeeded', 2],
    ]);
    expect(body.records[2]!.data).toMatchObject({ error: 'AGENT_FAILED', retryAt: expect.any(Number) });
    const seqs = body.records.map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    for (const r of body.records) expect(r.at).toBeGreaterThan(0);
  });

  it('is the tenant’s only: another tenant gets 404, an unknown task 404', async () => {
    const list = await ctx.call('viewer', 'GET', '/tasks?session=work');
    const id = list.json<{ tasks: { id: string }[] }>().tasks[0]!.id;
    const other = await ctx.call('other', 'GET', `/tasks/${id}/history`);
    expect(other.statusCode).toBe(404);
    expect(other.json<{ error: { code: string } }>().error.code).toBe('TASK_NOT_FOUND');
    const unknown = await ctx.call('viewer', 'GET', '/tasks/01900000-0000-7000-8000-000000000000/history');
    expect(unknown.statusCode).toBe(404);
  });

  it('stops at its cap and says the history is incomplete', async () => {
    const list = await ctx.call('viewer', 'GET', '/tasks?session=work&agent=flaky');
    const id = list.json<{ tasks: { id: string }[] }>().tasks[0]!.id;
    const full = (await warden.taskHistory(id)).records;
    const head = (await warden.taskHistory(noopId)).records.at(-1)!.seq;
    const after = head - full.at(-1)!.seq;
    expect(after).toBeGreaterThanOrEqual(3);
    // Reading only the later task's records reaches none of this one's.
    const capped = await warden.taskHistory(id, { maxScan: after });
    expect(capped).toMatchObject({ complete: false, scanned: after, records: [] });
    const partial = await warden.taskHistory(id, { maxScan: after + 2 });
    expect(partial.complete).toBe(false);
    expect(partial.records.map((r) => r.type)).toEqual(['task.started', 'task.succeeded']);
    expect(await warden.taskHistory(id, { maxScan: after + 5 })).toMatchObject({
      complete: true,
      records: full,
    });
  });

  afterAll(async () => {
    await ctx?.app.close();
    await warden?.close();
  });
}

// Warden is opened here rather than with openWarden, whose cleanup closes it after each test.
const root = () => mkdtempSync(join(tmpdir(), 'warden-history-'));

describe('GET /tasks/:id/history on SQLite', () => {
  let dir = '';
  historySuite(() => Warden.open({ storage: { root: (dir = root()) }, workers: { concurrency: 2 } }));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
});

const pg = await requirePostgres('the PostgreSQL half of test/api-task-history.test.ts');
describe.skipIf(!pg)('GET /tasks/:id/history on PostgreSQL', () => {
  let db: TestDatabase | undefined;
  let dir = '';
  historySuite(async () => {
    db = await createTestDatabase();
    return Warden.open({ storage: { postgres: db.url, root: (dir = root()) }, workers: { concurrency: 2 } });
  });
  afterAll(async () => {
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });
});
