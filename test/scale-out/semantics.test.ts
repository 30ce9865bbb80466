import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/api/index.js';
import { Warden } from '../../src/index.js';
import { eventually, sleep, tempDir } from '../helpers.js';
import { startFakeProvider, type FakeProvider, type Step } from '../llm/fake-provider.js';
import { fakeLlmAgentFile } from '../llm/fake-agent-file.js';
import { api, Cluster, running, waitFor, type Proc } from './cluster.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from './pg.js';

// The scheduler's promises, kept by two `warden worker` OS processes that share nothing but one PostgreSQL
// database (issue 13): priorities, session and agent-version caps, deadlines, idempotency keys, DLQ replay
// and cancel. Tasks are submitted by this process (a library Warden without workers) or by a
// `warden serve --no-workers`; the agents are LLM agents against a fake provider, so the test decides how
// long each task runs. What ran where and when is read from the provenance chain and the tasks table.

const pgOk = await requirePostgres('the PostgreSQL queue-semantics tests');

/** Short, so a cancel is seen within a few heartbeats (a third of the lease). */
const LEASE_MS = 1500;
const TERMINAL = new Set(['succeeded', 'failed', 'dead', 'cancelled', 'quarantined']);

interface ChainRecord {
  seq: number;
  type: string;
  at: number;
  taskId?: string;
  attempt?: number;
  data?: { worker?: string; error?: string };
}

let agents = 0;

describe.skipIf(!pgOk)('queue semantics across two worker processes on PostgreSQL', () => {
  let db: TestDatabase;
  let cluster: Cluster;
  let fake: FakeProvider;
  let sql: pg.Pool;
  let warden: Warden;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());
  beforeEach(async () => {
    fake = await startFakeProvider();
    cluster = new Cluster({ kind: 'postgres', url: db.url }, { FAKE_KEY: 'k' });
    sql = new pg.Pool({ connectionString: db.url, max: 3 });
    warden = await Warden.open({ storage: { postgres: db.url, root: tempDir() }, workers: false });
  });
  afterEach(async () => {
    await warden.close();
    await sql.end().catch(() => undefined);
    await cluster.stop();
    await fake.close();
  });

  /**
   * Registers an LLM agent against the fake provider (a new name each time: the provider's port changes
   * and a version is immutable). `spec` adds lines to its spec.
   */
  async function llmAgent(spec = ''): Promise<string> {
    const name = `sem-${process.pid}-${++agents}`;
    const path = fakeLlmAgentFile(fake.openaiBase, name, spec);
    await warden.registerAgent({ path });
    return name;
  }

  /** `n` completions that each take `tokens` × `delayMs`. */
  function slowSteps(n: number, tokens: number, delayMs: number): Step[] {
    return Array.from({ length: n }, () => ({
      kind: 'complete' as const,
      tokens: Array.from({ length: tokens }, (_, i) => `w${i} `),
      delayMs,
    }));
  }

  /** Two worker processes, started at the same time; each resolves with its process and worker id. */
  async function twoWorkers(a: string[] = [], b: string[] = a): Promise<{ worker: Proc; id: string }[]> {
    const common = ['--lease', String(LEASE_MS), '--grace', '200'];
    const procs = await Promise.all([
      cluster.worker('worker-a', [...common, ...a]),
      cluster.worker('worker-b', [...common, ...b]),
    ]);
    return Promise.all(procs.map(async (worker) => ({ worker, id: await workerId(worker) })));
  }

  async function chain(sessionId: string): Promise<ChainRecord[]> {
    const { rows } = await sql.query<{ seq: string; record: string }>(
      'select seq, record from provenance where session_id = $1 order by seq',
      [sessionId],
    );
    return rows.map((r) => ({ ...(JSON.parse(r.record) as Omit<ChainRecord, 'seq'>), seq: Number(r.seq) }));
  }

  async function states(ids: string[]): Promise<Map<string, string>> {
    const { rows } = await sql.query<{ id: string; state: string }>(
      'select id, state from tasks where id = any($1)',
      [ids],
    );
    return new Map(rows.map((r) => [r.id, r.state]));
  }

  async function allTerminal(ids: string[], timeoutMs = 30_000): Promise<Map<string, string>> {
    let last = new Map<string, string>();
    await eventually(
      async () => {
        last = await states(ids);
        return ids.every((id) => TERMINAL.has(last.get(id) ?? ''));
      },
      timeoutMs,
      `${ids.length} tasks to finish`,
    );
    return last;
  }

  /** How many result rows each task has (exactly one per terminal task is the invariant). */
  async function resultCounts(ids: string[]): Promise<number[]> {
    const { rows } = await sql.query<{ task_id: string; n: number }>(
      'select task_id, count(*)::int as n from results where task_id = any($1) group by task_id',
      [ids],
    );
    const n = new Map(rows.map((r) => [r.task_id, r.n]));
    return ids.map((id) => n.get(id) ?? 0);
  }

  /**
   * Samples the running tasks matching `where` every few milliseconds until stopped: `max` is the highest
   * count seen, `together` the sets of lease owners seen holding them at once. The caps bound what the
   * database holds, so this is what they must keep down.
   */
  function sampleRunning(where: string, param: string) {
    let stopped = false;
    let max = 0;
    let n = 0;
    const together = new Set<string>();
    const loop = (async () => {
      while (!stopped) {
        const { rows } = await sql.query<{ owner: string }>(
          `select lease_owner as owner from tasks where state = 'running' and ${where} = $1`,
          [param],
        );
        max = Math.max(max, rows.length);
        together.add(
          rows
            .map((r) => r.owner)
            .sort()
            .join(','),
        );
        n++;
        await sleep(5);
      }
    })();
    return {
      stop: async () => {
        stopped = true;
        await loop;
        return { max, together };
      },
      samples: () => n,
    };
  }

  const workerId = (p: Proc) => waitFor(p, /warden worker (\S+) running/, 1000);

  it('priorities: queued critical tasks start before high, normal and low ones', async () => {
    const agent = await llmAgent();
    const session = await warden.ensureSession({ name: 'priorities' });
    const levels = ['low', 'normal', 'high', 'critical'] as const;
    const rank = { critical: 0, high: 1, normal: 2, low: 3 };
    fake.script(...slowSteps(20, 3, 60));
    // Lowest first, so age alone would run them in exactly the wrong order.
    const submitted: { id: string; priority: (typeof levels)[number]; n: number }[] = [];
    for (let round = 0; round < 5; round++)
      for (const priority of levels) {
        const { id } = await warden.submit({
          agent,
          session: 'priorities',
          priority,
          input: { text: `${priority} ${round}` },
        });
        submitted.push({ id, priority, n: submitted.length });
      }
    const workers = await twoWorkers(['--concurrency', '1']);
    const ids = submitted.map((s) => s.id);
    expect([...(await allTerminal(ids)).values()].every((s) => s === 'succeeded')).toBe(true);

    const started = (await chain(session.id)).filter((r) => r.type === 'task.started');
    expect(started.map((r) => r.taskId).sort()).toEqual([...ids].sort());
    // Both processes ran some: the order below is the cluster's, not one worker's.
    expect(new Set(started.map((r) => r.data?.worker))).toEqual(new Set(workers.map((w) => w.id)));

    const byId = new Map(submitted.map((s) => [s.id, s]));
    const order = started.map((r) => byId.get(r.taskId!)!);
    const expected = [...submitted].sort((a, b) => rank[a.priority] - rank[b.priority] || a.n - b.n);
    const lastCritical = Math.max(...order.flatMap((s, i) => (s.priority === 'critical' ? [i] : [])));
    const firstLow = order.findIndex((s) => s.priority === 'low');
    expect(lastCritical).toBeLessThan(firstLow);
    // The start order is (priority, age) order, up to claims that raced each other: two workers with one
    // slot each, a claim locking at most two candidates, move a task at most two places.
    const displacement = order.map((s, i) => Math.abs(i - expected.indexOf(s)));
    console.log(
      `priority start order: at most ${Math.max(...displacement)} places from (priority, age) order`,
    );
    expect(Math.max(...displacement), order.map((s) => `${s.priority}#${s.n}`).join(' ')).toBeLessThanOrEqual(
      2,
    );
    // No priority inversion between tasks more than one claim apart.
    for (let i = 0; i < order.length; i++)
      for (let j = i + 2; j < order.length; j++)
        expect(rank[order[i]!.priority], `${i} before ${j}`).toBeLessThanOrEqual(rank[order[j]!.priority]);
  }, 60_000);

  it("concurrency limits: a session's maxConcurrency and an agent version's concurrency hold across both workers", async () => {
    const sessionCapped = await llmAgent();
    const versionCapped = await llmAgent('  concurrency: 2\n');
    const versionKey = `${versionCapped}@1.0.0`;
    const session = await warden.ensureSession({ name: 'one-at-a-time', maxConcurrency: 1 });
    // The first completion (the version-capped task worker a holds) lasts until b has claimed beside it;
    // every other one takes 3 × 80 ms, so which task gets which of those does not matter.
    fake.script(...slowSteps(1, 40, 100), ...slowSteps(13, 3, 80));
    const common = ['--lease', String(LEASE_MS), '--grace', '200'];
    const a = await cluster.worker('worker-a', [...common, '--concurrency', '1']);
    const first = (await warden.submit({ agent: versionCapped, input: { text: 'v0' } })).id;
    await eventually(() => fake.requests.length === 1, 20_000, 'worker a to run the first task');
    const b = await cluster.worker('worker-b', [...common, '--concurrency', '4']);
    const bySession = sampleRunning('session_id', session.id);
    const byVersion = sampleRunning('agent_key', versionKey);
    // b has four free slots and seven of the version's tasks before it: only the count it shares with a
    // (one running there) lets it take just one.
    const versionIds = [first];
    for (let i = 1; i < 8; i++)
      versionIds.push(
        (await warden.submit({ agent: versionCapped, priority: 'high', input: { text: `v${i}` } })).id,
      );
    const ids: string[] = [];
    for (let i = 0; i < 6; i++)
      ids.push(
        (await warden.submit({ agent: sessionCapped, session: 'one-at-a-time', input: { text: `s${i}` } }))
          .id,
      );
    const all = await allTerminal([...ids, ...versionIds]);
    const maxSession = (await bySession.stop()).max;
    const version = await byVersion.stop();
    expect([...all.values()].every((s) => s === 'succeeded')).toBe(true);
    expect(bySession.samples()).toBeGreaterThan(20);
    expect(maxSession).toBe(1);
    expect(version.max).toBe(2);
    // The version's two slots were held by the two processes at once (a's long first task, and one of b's).
    const ownerOf = new Map([
      [await workerId(a), 'a'],
      [await workerId(b), 'b'],
    ]);
    expect(
      [...version.together].map((o) =>
        o
          .split(',')
          .map((w) => ownerOf.get(w))
          .sort()
          .join(','),
      ),
    ).toContain('a,b');

    // The agents themselves never overlapped: a session-capped request arrives only after the previous
    // one's 240 ms answer ended (the running count above could miss a brief overlap between samples).
    const sessionRequests = fake.requests
      .filter((r) => JSON.stringify(r.body).includes('Repeat: s'))
      .map((r) => r.at);
    expect(sessionRequests).toHaveLength(6);
    for (let i = 1; i < sessionRequests.length; i++)
      expect(sessionRequests[i]! - sessionRequests[i - 1]!, `request ${i}`).toBeGreaterThanOrEqual(230);
  }, 60_000);

  it('deadlines: tasks whose deadline passed in the queue fail with DEADLINE_EXCEEDED and never run', async () => {
    const agent = await llmAgent();
    const session = await warden.ensureSession({ name: 'deadlines' });
    const soon = Date.now() + 1000;
    const expired: string[] = [];
    for (let i = 0; i < 3; i++)
      expired.push(
        (
          await warden.submit({
            agent,
            session: 'deadlines',
            deadline: soon,
            priority: 'critical',
            input: { text: `late ${i}` },
          })
        ).id,
      );
    const { id: later } = await warden.submit({
      agent,
      session: 'deadlines',
      deadline: Date.now() + 120_000,
      input: { text: 'in time' },
    });
    await eventually(() => Date.now() > soon + 50, 5000, 'the deadline to pass');
    await twoWorkers();
    const all = await allTerminal([...expired, later]);
    expect(all.get(later)).toBe('succeeded');
    for (const id of expired) expect(all.get(id), id).toBe('failed');

    const { rows } = await sql.query<{ task_id: string; status: string; error: string; attempts: number }>(
      'select task_id, status, error, attempts from results where task_id = any($1)',
      [expired],
    );
    expect(rows).toHaveLength(3);
    for (const r of rows) {
      expect(r).toMatchObject({ status: 'failed', attempts: 0 });
      expect((JSON.parse(r.error) as { code: string }).code).toBe('DEADLINE_EXCEEDED');
    }
    const records = await chain(session.id);
    const startedIds = records.filter((r) => r.type === 'task.started').map((r) => r.taskId);
    expect(startedIds).toEqual([later]);
    for (const id of expired)
      expect(records.filter((r) => r.taskId === id && r.type === 'task.failed')).toMatchObject([
        { data: { error: 'DEADLINE_EXCEEDED' } },
      ]);
    // The model was asked once: for the task that was in time.
    expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  }, 60_000);

  it('idempotency keys: concurrent submits through two processes make one task, run once', async () => {
    const agent = await llmAgent();
    fake.script(...slowSteps(1, 3, 100));
    const { key } = await createApiKey(warden.store, { tenant: 'default', role: 'operator', name: 'sem' });
    const server = await cluster.serve('serve');
    const client = api(server.url, key);
    await twoWorkers();
    const idempotencyKey = `order-${process.pid}`;
    // Five through the API server's process and five through this one, all at once.
    const ids = await Promise.all([
      ...Array.from({ length: 5 }, () => client.submit({ text: 'pay' }, { agent, idempotencyKey })),
      ...Array.from(
        { length: 5 },
        async () => (await warden.submit({ agent, input: { text: 'pay' }, idempotencyKey })).id,
      ),
    ]);
    expect(new Set(ids).size).toBe(1);
    const id = ids[0]!;
    expect((await allTerminal([id])).get(id)).toBe('succeeded');
    // After it ran, the same key still answers with it, and nothing runs again.
    const again = await warden.submit({ agent, input: { text: 'pay' }, idempotencyKey });
    expect(again).toMatchObject({ id, deduplicated: true, state: 'succeeded' });
    expect(await client.submit({ text: 'pay' }, { agent, idempotencyKey })).toBe(id);
    await sleep(LEASE_MS); // time for a stray second run to show

    const rows = await sql.query('select id from tasks where idempotency_key = $1', [idempotencyKey]);
    expect(rows.rowCount).toBe(1);
    const records = (await chain((await warden.getSession('default')).id)).filter((r) => r.taskId === id);
    expect(records.map((r) => r.type)).toEqual(['task.submitted', 'task.started', 'task.succeeded']);
    expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(await resultCounts([id])).toEqual([1]);
  }, 60_000);

  it('DLQ replay: a dead task replayed by another process runs again on a worker, with one result', async () => {
    const agent = await llmAgent('  retry: { maxAttempts: 2, baseMs: 0 }\n');
    const session = await warden.ensureSession({ name: 'dlq' });
    fake.script(
      { kind: 'status', status: 500 },
      { kind: 'status', status: 500 },
      { kind: 'complete', tokens: ['second ', 'life'] },
    );
    const workers = await twoWorkers();
    const { id } = await warden.submit({ agent, session: 'dlq', input: { text: 'fragile' } });
    expect((await allTerminal([id])).get(id)).toBe('dead');
    const dead = await warden.dlq.list({ session: 'dlq' });
    expect(dead).toMatchObject([{ taskId: id, attempts: 2, error: { code: 'LLM_PROVIDER_ERROR' } }]);

    expect(await cluster.run(['dlq', 'replay', id])).toContain(`replayed ${id}`);
    await eventually(async () => (await states([id])).get(id) === 'succeeded', 30_000, 'the replay to run');
    expect(await warden.dlq.list({ session: 'dlq' })).toEqual([]);
    const result = await warden.storedResult(id);
    expect(result).toMatchObject({ status: 'succeeded', output: { text: 'second life' } });
    expect(await resultCounts([id])).toEqual([1]);

    const types = (await chain(session.id)).filter((r) => r.taskId === id).map((r) => r.type);
    expect(types).toEqual([
      'task.submitted',
      'task.started',
      'task.attempt_failed',
      'task.started',
      'task.dead_lettered',
      'task.replayed',
      'task.started',
      'task.succeeded',
    ]);
    expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(3);

    // The chain, with the replayed result, verifies.
    for (const w of workers) w.worker.proc.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.worker.exited));
    const verified = JSON.parse(await cluster.run(['--json', 'verify', '--session', 'dlq'])) as {
      ok: boolean;
    }[];
    expect(
      verified.every((v) => v.ok),
      JSON.stringify(verified),
    ).toBe(true);
  }, 60_000);

  it('cancel: a running task cancelled from another process stops within heartbeats; its worker runs on', async () => {
    const agent = await llmAgent();
    const session = await warden.ensureSession({ name: 'cancel' });
    // The first request never finishes: only a cancel ends that task.
    fake.script({ kind: 'stall', tokens: ['thinking '] });
    const workers = await twoWorkers();
    const { id } = await warden.submit({ agent, session: 'cancel', input: { text: 'forever' } });
    await eventually(
      async () => fake.requests.length > 0 && (await states([id])).get(id) === 'running',
      20_000,
      'the task to run',
    );
    const owner = (await chain(session.id)).find((r) => r.type === 'task.started')!.data!.worker!;
    const ran = workers.find((w) => w.id === owner)!;
    const other = workers.find((w) => w.id !== owner)!;

    expect(await cluster.run(['cancel', id])).toContain('cancel requested');
    const asked = Date.now(); // the request is committed once the CLI has exited
    await eventually(async () => (await states([id])).get(id) === 'cancelled', 4 * LEASE_MS, 'the cancel');
    const tookMs = Date.now() - asked;
    console.log(`cancel of a running task took ${tookMs} ms (heartbeat every ${LEASE_MS / 3} ms)`);
    expect(await warden.storedResult(id)).toMatchObject({ status: 'cancelled' });
    expect(await resultCounts([id])).toEqual([1]);
    expect((await chain(session.id)).filter((r) => r.taskId === id).map((r) => r.type)).toEqual([
      'task.submitted',
      'task.started',
      'task.cancelled',
    ]);

    // The worker that ran it is still healthy: with the other one gone, it runs the next task.
    other.worker.proc.kill('SIGTERM');
    await other.worker.exited;
    const { id: next } = await warden.submit({ agent, session: 'cancel', input: { text: 'next one' } });
    expect((await allTerminal([next])).get(next)).toBe('succeeded');
    expect(running(ran.worker)).toBe(true);
    expect(ran.worker.stderr()).toMatch(new RegExp(`${id} \\S+ cancelled`));
  }, 60_000);
});
