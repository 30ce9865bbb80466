import { hostname } from 'node:os';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Warden } from '../../src/index.js';
import { WardenMetrics } from '../../src/telemetry/index.js';
import { eventually, sleep, tempDir } from '../helpers.js';
import { startFakeProvider, type FakeProvider } from '../llm/fake-provider.js';
import { fakeLlmAgentFile } from '../llm/fake-agent-file.js';
import { Cluster } from './cluster.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from './pg.js';

// The maintenance leader of a PostgreSQL database (one node holds a session advisory lock): exactly one
// of the contending nodes leads, another takes over when it closes, loses its connection or is killed;
// only the leader reaps expired leases; and it signs the records a killed node committed.

const pgOk = await requirePostgres('the PostgreSQL maintenance leader tests');
const LOCK = "hashtextextended('warden_maintenance', 0)";
const RETRY_MS = 200;

describe.skipIf(!pgOk)('maintenance leader on PostgreSQL', () => {
  let db: TestDatabase;
  let sql: pg.Client;
  const open: Warden[] = [];
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());
  beforeEach(async () => {
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
  });
  afterEach(async () => {
    for (const w of open.splice(0)) await w.close().catch(() => undefined);
    await sql.end().catch(() => undefined);
  });

  /** A node of the cluster in this process, named `name` in pg_stat_activity. */
  async function node(
    name: string,
    options: { workers?: false | object; maintenance?: object | boolean } = {},
  ) {
    const w = await Warden.open({
      storage: { root: tempDir(), postgres: { url: db.url, nodeName: name } },
      workers: options.workers ?? false,
      maintenance: options.maintenance ?? { retryMs: RETRY_MS },
    });
    open.push(w);
    return w;
  }

  /** The application names of the sessions holding the maintenance lock (at most one, if all is well). */
  async function lockHolders(): Promise<string[]> {
    const { rows } = await sql.query<{ name: string }>(
      `SELECT a.application_name AS name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()
         AND a.application_name LIKE 'warden maintenance%'`,
    );
    return rows.map((r) => r.name);
  }

  const leaders = (ws: Warden[]) => ws.filter((w) => w.workerStatus().maintenanceLeader);

  it('exactly one node leads; another takes over when it closes or loses its connection', async () => {
    const a = await node('node-a');
    const b = await node('node-b');
    expect(leaders([a, b])).toEqual([a]);
    expect(await lockHolders()).toEqual(['warden maintenance node-a']);
    const metrics = new WardenMetrics(b);
    expect((await metrics.render()).body).toMatch(/^warden_maintenance_leader 0$/m);

    let t = Date.now();
    await a.close();
    await eventually(() => b.workerStatus().maintenanceLeader, 5000, 'node-b to take over');
    const afterClose = Date.now() - t;
    expect(await lockHolders()).toEqual(['warden maintenance node-b']);
    expect((await metrics.render()).body).toMatch(/^warden_maintenance_leader 1$/m);
    metrics.dispose();

    // PostgreSQL ends the leader's session (a restart, an admin, a network cut): it is leader no more,
    // and whoever takes the lock next leads; never two.
    const c = await node('node-c');
    expect(leaders([b, c])).toEqual([b]);
    t = Date.now();
    await sql.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'warden maintenance node-b'",
    );
    await eventually(() => !b.workerStatus().maintenanceLeader, 5000, 'node-b to notice it lost the lock');
    await eventually(() => leaders([b, c]).length === 1, 5000, 'a new leader');
    const afterCut = Date.now() - t;
    expect((await lockHolders()).length).toBe(1);
    for (let i = 0; i < 5; i++) {
      await sleep(RETRY_MS);
      expect(leaders([b, c]).length).toBe(1);
    }
    console.log(JSON.stringify({ takeoverAfterCloseMs: afterClose, takeoverAfterCutMs: afterCut }));
  });

  it('only the leader reaps: a lease that ran out stays until this node holds the lock, then goes back', async () => {
    // The test holds the lock: the node below is a follower, with workers (and their scheduler) running.
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query(`SELECT pg_advisory_lock(${LOCK})`);
      const submitter = await node('submitter', { maintenance: false });
      // An inline handler runs only where it was registered: no worker here can claim the task.
      await submitter.registerHandler('elsewhere', () => ({}), { shared: true });
      const { id } = await submitter.submit({ agent: 'elsewhere', input: {} });
      await submitter.close();
      const worker = await node('worker', {
        workers: { leaseMs: 600, pollIntervalMs: 100 },
        maintenance: { retryMs: RETRY_MS, reapIntervalMs: 100 },
      });
      expect(worker.workerStatus().maintenanceLeader).toBe(false);
      // A worker died holding it: running, its lease over.
      await sql.query(
        "UPDATE tasks SET state = 'running', attempts = 1, lease_owner = 'dead-worker', lease_until = $2 WHERE id = $1",
        [id, Date.now() - 1000],
      );
      // Several reap intervals of the follower's scheduler (leaseMs / 2) pass: it must not reap.
      await sleep(2000);
      expect((await sql.query('SELECT state FROM tasks WHERE id = $1', [id])).rows[0].state).toBe('running');

      const released = Date.now();
      await holder.query(`SELECT pg_advisory_unlock(${LOCK})`);
      await eventually(
        async () =>
          (await sql.query('SELECT state FROM tasks WHERE id = $1', [id])).rows[0].state === 'queued',
        5000,
        'the new leader to reap the lease',
      );
      expect(worker.workerStatus().maintenanceLeader).toBe(true);
      const expired = await sql.query(
        "SELECT record::jsonb->'data' AS data FROM provenance WHERE record::jsonb->>'type' = 'task.lease_expired' AND record::jsonb->>'taskId' = $1",
        [id],
      );
      expect(expired.rowCount).toBe(1);
      console.log(JSON.stringify({ reapedAfterUnlockMs: Date.now() - released }));
    } finally {
      await holder.end();
    }
  });
});

describe.skipIf(!pgOk)('maintenance leader on PostgreSQL: a worker killed with SIGKILL', () => {
  let db: TestDatabase;
  let cluster: Cluster;
  let fake: FakeProvider;
  let sql: pg.Client;
  let other: Warden | undefined;
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
    await other?.close().catch(() => undefined);
    await sql.end().catch(() => undefined);
    await cluster.stop();
    await fake.close();
  });

  /** Sessions whose chain head is past their latest signed tree head. */
  async function behind(): Promise<{ session_id: string; seq: number; signed: number }[]> {
    const { rows } = await sql.query<{ session_id: string; seq: string; signed: string }>(
      `SELECT ph.session_id, ph.seq, coalesce(th.tree_size, 0) AS signed FROM provenance_heads ph
       LEFT JOIN tree_heads th ON th.session_id = ph.session_id WHERE ph.seq > coalesce(th.tree_size, 0)`,
    );
    return rows.map((r) => ({ session_id: r.session_id, seq: Number(r.seq), signed: Number(r.signed) }));
  }

  it('the next leader signs what the dead leader committed, within two sign intervals, and reaps its leases', async () => {
    const SIGN_INTERVAL_MS = 1000; // the default, which the worker process uses
    const name = `slow-${process.pid}`;
    const path = fakeLlmAgentFile(fake.openaiBase, name);
    fake.script(
      ...Array.from({ length: 200 }, () => ({ kind: 'complete' as const, tokens: ['ok'], delayMs: 60 })),
    );
    await cluster.run(['agents', 'register', path]);
    // Submitted by a node that does not contend and is gone before the worker starts.
    const submitter = await Warden.open({
      storage: { root: tempDir(), postgres: db.url },
      workers: false,
      maintenance: false,
    });
    for (let i = 0; i < 120; i++) await submitter.submit({ agent: name, input: { text: `t${i}` } });
    await submitter.close();

    const worker = await cluster.worker('worker', [
      '--concurrency',
      '8',
      '--lease',
      '2000',
      '--grace',
      '200',
    ]);
    await eventually(
      async () => (await lockHolders()).includes(`warden maintenance ${hostname()}:${worker.proc.pid}`),
      5000,
      'the worker to lead',
    );
    other = await Warden.open({
      storage: { root: tempDir(), postgres: { url: db.url, nodeName: 'survivor' } },
      workers: false,
      maintenance: { retryMs: 250 },
    });
    expect(other.workerStatus().maintenanceLeader).toBe(false);
    // The worker is in the middle of its run: committing claims and results several times a second.
    await eventually(
      async () =>
        Number((await sql.query("SELECT count(*) AS n FROM tasks WHERE state = 'succeeded'")).rows[0].n) >=
        20,
      30_000,
      'twenty results',
    );
    worker.proc.kill('SIGKILL');
    await worker.exited;
    const killed = Date.now();
    const atKill = await behind();
    // What the worker committed since its last signing round (most runs leave some).
    console.log(
      JSON.stringify({
        unsignedSessionsAtKill: atKill.length,
        unsignedRecordsAtKill: atKill.map((b) => b.seq - b.signed),
      }),
    );

    // Every record that existed at the kill is covered by a signed head, on a node that committed none of them.
    await eventually(
      async () => {
        const now = new Map((await behind()).map((b) => [b.session_id, b.signed]));
        return atKill.every((b) => !now.has(b.session_id) || now.get(b.session_id)! >= b.seq);
      },
      2 * SIGN_INTERVAL_MS + 1000,
      "the dead worker's records to be signed",
    );
    const signedAfter = Date.now() - killed;
    expect(other.workerStatus().maintenanceLeader).toBe(true);
    const signers = await sql.query<{ node_name: string }>(
      'SELECT nk.node_name FROM tree_heads th JOIN node_keys nk ON nk.key_id = th.key_id WHERE th.session_id = ANY($1)',
      [atKill.map((b) => b.session_id)],
    );
    expect(signers.rows.map((r) => r.node_name)).toEqual(atKill.map(() => 'survivor'));

    // Its running tasks' leases run out: the new leader hands them back to the queue.
    await eventually(
      async () =>
        Number((await sql.query("SELECT count(*) AS n FROM tasks WHERE state = 'running'")).rows[0].n) === 0,
      10_000,
      'the leader to reap the dead worker leases',
    );
    const reaped = Number(
      (
        await sql.query(
          "SELECT count(*) AS n FROM provenance WHERE record::jsonb->>'type' = 'task.lease_expired'",
        )
      ).rows[0].n,
    );
    expect(reaped).toBeGreaterThan(0);

    // Another node's verify: every chain checks out, nothing unsigned (the reaps were signed too).
    await eventually(
      async () => (await behind()).length === 0,
      2 * SIGN_INTERVAL_MS + 1000,
      'the reaps to be signed',
    );
    const out = JSON.parse(await cluster.run(['--json', 'verify'])) as { ok: boolean; unsigned: number }[];
    expect(out.length).toBeGreaterThan(0);
    expect(
      out.filter((v) => !v.ok || v.unsigned !== 0),
      JSON.stringify(out),
    ).toEqual([]);
    console.log(JSON.stringify({ signedAfterKillMs: signedAfter, reaped }));
  }, 120_000);

  async function lockHolders(): Promise<string[]> {
    const { rows } = await sql.query<{ name: string }>(
      `SELECT a.application_name AS name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()
         AND a.application_name LIKE 'warden maintenance%'`,
    );
    return rows.map((r) => r.name);
  }
});
