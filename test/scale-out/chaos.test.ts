import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventually, sleep } from '../helpers.js';
import { startFakeProvider, type FakeProvider } from '../llm/fake-provider.js';
import { fakeLlmAgentFile } from '../llm/fake-agent-file.js';
import { api, Cluster, running, type Proc } from './cluster.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from './pg.js';

// Chaos on PostgreSQL with the total-queue invariant: every acknowledged submit ends with exactly one
// terminal state and one result, no task runs to success twice, and the chains verify. Workers are
// killed (-9) mid-task while tasks are submitted, PostgreSQL restarts mid-run, and a worker is paused past
// its lease and resumed: its late finish must be refused.

const pgOk = await requirePostgres('the PostgreSQL chaos tests');
// Restarting the server cuts every other PostgreSQL test running at the same time: npm test runs it on its
// own after the rest (npm run test:pg-restart sets WARDEN_CHAOS_PG_RESTART=1).
const restartAsked = process.env['WARDEN_CHAOS_PG_RESTART'] === '1';
/** Restarting needs a local Debian-style cluster (pg_ctlcluster), as CI has; elsewhere it is skipped loudly. */
function canRestartPostgres(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v pg_ctlcluster'], { stdio: 'ignore' });
    return readdirSync('/etc/postgresql').length > 0;
  } catch {
    return false;
  }
}
const restartOk = pgOk && restartAsked && canRestartPostgres();
if (pgOk && restartAsked && !restartOk) {
  if (process.env['CI'])
    throw new Error('CI is set, and the PostgreSQL restart test needs pg_ctlcluster here.');
  console.warn(
    '\n!!! No local pg_ctlcluster cluster to restart: SKIPPING the PostgreSQL restart chaos test.\n',
  );
}
if (pgOk && !restartAsked)
  console.warn(
    '\n!!! The PostgreSQL restart chaos test runs alone after this run (npm run test:pg-restart).\n',
  );

const LEASE_MS = 2000;
const TERMINAL = new Set(['succeeded', 'failed', 'dead', 'cancelled', 'quarantined']);

let agents = 0;

/**
 * An LLM agent against the fake provider (a new name each time: the provider's port changes, and a
 * version is immutable): each task takes as long as its scripted step says.
 */
function slowAgent(baseUrl: string): { path: string; name: string } {
  const name = `slow-${process.pid}-${++agents}`;
  return { path: fakeLlmAgentFile(baseUrl, name, '  retry: { maxAttempts: 10 }\n'), name };
}

describe.skipIf(!pgOk)('chaos on PostgreSQL: the total-queue invariant', () => {
  let db: TestDatabase;
  let cluster: Cluster;
  let fake: FakeProvider;
  let sql: pg.Client;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());
  beforeEach(async () => {
    fake = await startFakeProvider();
    cluster = new Cluster({ kind: 'postgres', url: db.url }, { FAKE_KEY: 'k' });
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
  });
  afterEach(async () => {
    await sql.end().catch(() => undefined);
    await cluster.stop();
    await fake.close();
  });

  /** The invariant over every acknowledged task id. */
  async function assertTotalQueue(ids: string[]): Promise<void> {
    await eventually(
      async () => {
        const { rows } = await sql.query<{ state: string }>('select state from tasks where id = any($1)', [
          ids,
        ]);
        return rows.length === ids.length && rows.every((r) => TERMINAL.has(r.state));
      },
      120_000,
      'every acknowledged task to reach a terminal state',
    );
    const results = await sql.query<{ task_id: string; n: string }>(
      'select task_id, count(*) as n from results where task_id = any($1) group by task_id',
      [ids],
    );
    expect(results.rows.length).toBe(ids.length);
    expect(results.rows.filter((r) => Number(r.n) !== 1)).toEqual([]);
    // Success is recorded once per task in the provenance chain: a second success would be a second record.
    const twice = await sql.query(
      `select record::jsonb->>'taskId' as task, count(*) from provenance
        where record::jsonb->>'type' in ('task.succeeded', 'task.quarantined')
        group by 1 having count(*) > 1`,
    );
    expect(twice.rows).toEqual([]);
  }

  async function verifyChains(): Promise<void> {
    for (const p of cluster.procs) if (running(p)) p.proc.kill('SIGTERM');
    await Promise.all(cluster.procs.map((p) => p.exited));
    const out = JSON.parse(await cluster.run(['--json', 'verify'])) as { ok: boolean }[];
    expect(
      out.every((v) => v.ok),
      JSON.stringify(out),
    ).toBe(true);
  }

  it('five kill -9 of workers mid-task while submitting', async () => {
    const agent = slowAgent(fake.openaiBase);
    fake.script(
      ...Array.from({ length: 400 }, () => ({
        kind: 'complete' as const,
        tokens: ['a ', 'b'],
        delayMs: 150,
      })),
    );
    await cluster.run(['agents', 'register', agent.path]);
    const key = (await cluster.run(['keys', 'create', '--role', 'operator'])).trim();
    const server = await cluster.serve('serve');
    const client = api(server.url, key);
    const workers: Proc[] = [];
    for (let i = 0; i < 3; i++) workers.push(await startWorker(cluster, `w${i}`));
    const ids: string[] = [];
    let kills = 0;
    for (let i = 0; i < 60; i++) {
      ids.push(await client.submit({ text: `t${i}` }, { agent: agent.name }));
      if (i % 10 === 5 && kills < 5) {
        // Kill one that is running something (the fake provider has open requests), start a fresh one.
        const victim = workers.splice(Math.floor(Math.random() * workers.length), 1)[0]!;
        victim.proc.kill('SIGKILL');
        kills++;
        workers.push(await startWorker(cluster, `w-new-${kills}`));
      }
      await sleep(50);
    }
    expect(kills).toBe(5);
    await assertTotalQueue(ids);
    // The kills hit running tasks: their leases expired and other workers ran them again.
    const expired = await sql.query(
      "select count(*)::int as n from provenance where record::jsonb->>'type' = 'task.lease_expired'",
    );
    expect(expired.rows[0].n).toBeGreaterThan(0);
    await verifyChains();
  }, 240_000);

  it.skipIf(!restartOk)(
    'PostgreSQL restarts mid-run: processes reconnect, nothing is lost',
    async () => {
      const agent = slowAgent(fake.openaiBase);
      fake.script(
        ...Array.from({ length: 200 }, () => ({ kind: 'complete' as const, tokens: ['x'], delayMs: 200 })),
      );
      await cluster.run(['agents', 'register', agent.path]);
      const key = (await cluster.run(['keys', 'create', '--role', 'operator'])).trim();
      const server = await cluster.serve('serve');
      const client = api(server.url, key);
      for (let i = 0; i < 2; i++) await startWorker(cluster, `w${i}`);
      const ids: string[] = [];
      for (let i = 0; i < 20; i++)
        ids.push(await client.submit({ text: `before ${i}` }, { agent: agent.name }));
      await sql.end();
      const version = readdirSync('/etc/postgresql')[0]!;
      execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart'], {
        stdio: 'inherit',
      });
      // Submits after the restart are acknowledged again once the server's pool reconnected.
      await eventually(
        async () => {
          try {
            ids.push(await client.submit({ text: 'after' }, { agent: agent.name }));
            return true;
          } catch {
            return false;
          }
        },
        30_000,
        'a submit after the restart',
      );
      for (let i = 0; i < 10; i++)
        ids.push(await client.submit({ text: `after ${i}` }, { agent: agent.name }));
      sql = new pg.Client({ connectionString: db.url });
      await sql.connect();
      await assertTotalQueue(ids);
      await verifyChains();
    },
    240_000,
  );

  it('a worker paused past its lease loses the task, and its late finish is refused', async () => {
    const agent = slowAgent(fake.openaiBase);
    // The first attempt takes 3 s (past the 2 s lease); the takeover's attempt is quick.
    fake.script({ kind: 'complete', tokens: ['late ', 'answer'], delayMs: 1500 });
    await cluster.run(['agents', 'register', agent.path]);
    const key = (await cluster.run(['keys', 'create', '--role', 'operator'])).trim();
    const server = await cluster.serve('serve');
    const client = api(server.url, key);
    const paused = await startWorker(cluster, 'paused');
    const id = await client.submit({ text: 'once' }, { agent: agent.name });
    await eventually(() => fake.requests.length > 0, 20_000, 'the first attempt to start');
    paused.proc.kill('SIGSTOP');
    const other = await startWorker(cluster, 'other');
    await eventually(async () => (await client.task(id)).result !== null, 30_000, 'the takeover to finish');
    paused.proc.kill('SIGCONT');
    await sleep(LEASE_MS); // the resumed worker's finish (and heartbeat) reach the database meanwhile
    const { task, result } = await client.task(id);
    expect(result).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(task.attempts).toBe(2);
    const expired = await sql.query(
      "select 1 from provenance where record::jsonb->>'type' = 'task.lease_expired' and record::jsonb->>'taskId' = $1",
      [id],
    );
    expect(expired.rowCount).toBe(1);
    await assertTotalQueue([id]);
    expect(running(paused) && running(other)).toBe(true);
    await verifyChains();
  }, 120_000);

  function startWorker(c: Cluster, name: string): Promise<Proc> {
    return c.worker(name, ['--lease', String(LEASE_MS), '--grace', '200']);
  }
});
