import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateTreeHeadKey } from '../../src/provenance/index.js';
import { MIGRATION_NAMES, openSqliteStore, sqliteNodeKey, type Store } from '../../src/store/index.js';
import { migratePostgres, openPostgresStore } from '../../src/store/postgres/index.js';
import { tempDir } from '../helpers.js';
import { T0, claimReq, manifest, scriptedRun, session, storeContract, succeeded, task } from './contract.js';
import { freshDatabase, openPgStore, pgExec, requirePg, truncateAll } from './pg-db.js';

const available = await requirePg();
let db: Awaited<ReturnType<typeof freshDatabase>> | undefined;

beforeAll(async () => {
  if (available) db = await freshDatabase();
});
afterAll(async () => {
  await db?.drop();
});

/** A node of its own: a store with a fresh key directory, and the key it signs with. */
const openPgNode = async () => {
  const signer = loadOrCreateTreeHeadKey(join(tempDir(), 'keys'));
  const store = await openPostgresStore(
    { url: db!.url, keyDir: join(tempDir(), 'keys'), signIntervalMs: 0, pool: { max: 4 } },
    signer,
  );
  return { store, signer };
};
const openPg = async (): Promise<Store> => (await openPgNode()).store;

storeContract(
  'PostgreSQL',
  {
    async open() {
      await truncateAll(db!.url);
      return { ...(await openPgNode()), exec: async (sql) => void (await pgExec(db!.url, sql)) };
    },
  },
  !available,
);

describe.skipIf(!available)('PostgreSQL store, beyond the contract', () => {
  it('writes byte-identical chains to SQLite for the same operations', async () => {
    await truncateAll(db!.url);
    const path = join(tempDir(), 'warden.db');
    const sqlite = await openSqliteStore({ path }, sqliteNodeKey(path));
    const pg = await openPg();
    try {
      const sessions = await scriptedRun(sqlite);
      expect(await scriptedRun(pg)).toEqual(sessions);
      for (const s of sessions) {
        const a = await sqlite.readChain(s);
        const b = await pg.readChain(s);
        expect(a.length).toBeGreaterThan(5);
        const brief = (l: { recordJson: string }[]) =>
          l.map((x) => {
            const r = JSON.parse(x.recordJson);
            return `${r.seq} ${r.type} ${r.taskId ?? ''} ${r.attempt ?? ''}`;
          });
        expect(brief(b)).toEqual(brief(a));
        expect(b).toEqual(a);
      }
      // Result rows too (the records commit to them).
      const results = async (store: Store) => (await store.listTasks({ limit: 100 })).map((t) => t.id).sort();
      const ids = await results(sqlite);
      expect(await pg.getResults(ids)).toEqual(expect.arrayContaining(await sqlite.getResults(ids)));
    } finally {
      await sqlite.close();
      await pg.close();
    }
  });

  it('claims from a deep queue by reading about one window of tasks per claim, not the whole queue', async () => {
    // Right after a queue fills, PostgreSQL plans with statistics of an empty table: a claim once read every
    // queued task of its versions and sorted them (2.5 ms per claim at 6,000 queued). The claim now reads
    // each version's index range in order and stops at its window, whatever the statistics say.
    await truncateAll(db!.url);
    const queued = 3000;
    const prefill = await openPg();
    const s = session(1, 1000);
    let agents: string[];
    try {
      await prefill.createSession(s);
      agents = [
        (await prefill.putAgent(manifest('deep-a'), null, T0)).key,
        (await prefill.putAgent(manifest('deep-b'), null, T0)).key,
      ];
      for (let start = 0; start < queued; start += 500)
        await prefill.submit(
          Array.from({ length: 500 }, (_, k) => task(start + k + 1, s, agents[(start + k) % 2]!)),
        );
    } finally {
      await prefill.close(); // its backends exit, flushing their statistics
    }
    const tuplesRead = async () =>
      Number(
        (
          await pgExec(
            db!.url,
            `SELECT (SELECT coalesce(sum(idx_tup_read), 0) FROM pg_stat_user_indexes WHERE relname = 'tasks')
               + (SELECT coalesce(seq_tup_read, 0) FROM pg_stat_user_tables WHERE relname = 'tasks') AS n`,
          )
        )[0]!['n'],
      );
    const before = await tuplesRead();
    const claims = 25;
    const store = await openPg();
    let claimed = 0;
    try {
      for (let i = 0; i < claims; i++)
        claimed += (await store.claim(claimReq({ runnable: agents, limit: 8, now: T0 + 10_000 }))).claimed
          .length;
    } finally {
      await store.close();
    }
    expect(claimed).toBe(claims * 8);
    // Statistics reach the views shortly after the backends exit.
    let read = 0;
    for (let i = 0; i < 50 && read === 0; i++) {
      read = (await tuplesRead()) - before;
      if (read === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(read).toBeGreaterThan(0);
    // A window is 16 tasks here: the look and the claim each read one per version (64), the update its 8
    // rows, and the count of running tasks up to 200 (none finishes here): about 370 per claim. Reading
    // the queue was about 2 x 3,000.
    expect(read / claims).toBeLessThan(1000);
  });

  it('writes a one-session submit or finish as one statement, and falls back to a transaction, never forking the chain, when another node moved the head or a fence refused', async () => {
    await truncateAll(db!.url);
    // Every statement each store sends, and how it ended.
    const sent: { name: string; failed?: string }[] = [];
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const first = args[0] as string | { name?: string; text?: string };
      const entry: { name: string; failed?: string } = {
        name: typeof first === 'string' ? first : (first.name ?? first.text ?? ''),
      };
      sent.push(entry);
      const out = (query as (...a: unknown[]) => unknown).apply(this, args);
      if (out instanceof Promise)
        out.catch((err: { code?: string }) => {
          entry.failed = err.code ?? 'error';
        });
      return out;
    } as typeof query;
    // The statements of the task writes (not the tree-head signing that follows each commit here).
    const writes = () => sent.filter((q) => /^(warden_|BEGIN|COMMIT|ROLLBACK)/.test(q.name));
    const a = await openPg();
    const b = await openPg();
    try {
      const s = session(1, 1000);
      await a.createSession(s);
      const agent = (await a.putAgent(manifest('one-statement'), null, T0)).key;
      let n = 0;
      const submit = (store: Store) => store.submit([task(++n, s, agent)]);
      // A knows the head it wrote: its submits go out as one statement each.
      sent.length = 0;
      await submit(a);
      await submit(a);
      expect(writes().map((q) => q.name)).toEqual(['warden_submit_one', 'warden_submit_one']);
      // B never wrote this chain: a transaction. Then A's cached head is stale: its statement aborts itself
      // (nothing written), and the transaction after it writes the task after B's record.
      await submit(b);
      sent.length = 0;
      await submit(a);
      expect(writes()[0]).toEqual({ name: 'warden_submit_one', failed: 'WRD01' });
      expect(writes().map((q) => q.name)).toContain('COMMIT');
      // A finish whose fence refuses (the lease is another worker's) aborts too, and then applies nothing.
      const [claimed] = (await a.claim(claimReq({ runnable: [agent], limit: 1, owner: 'w1' }))).claimed;
      for (let i = 0; i < 40; i++) await submit(a); // past the backoff after the miss: one statement again
      sent.length = 0;
      const refused = await a.finish([succeeded(claimed!, 'someone-else', T0 + 2000)], []);
      expect(refused.applied).toEqual([false]);
      expect(writes()[0]).toEqual({ name: 'warden_finish_one', failed: 'WRD01' });
      for (let i = 0; i < 40; i++) await submit(a);
      sent.length = 0;
      const accepted = await a.finish([succeeded(claimed!, 'w1', T0 + 2000)], []);
      expect(accepted.applied).toEqual([true]);
      expect(writes().map((q) => q.name)).toEqual(['warden_finish_one']);
      // One chain, every record once, in order, whichever way each was written.
      const v = await a.verifyChain(s.id);
      expect(v.ok).toBe(true);
      const types = (await b.readChain(s.id)).map((l) => JSON.parse(l.recordJson).type as string);
      expect(types.filter((t) => t === 'task.submitted')).toHaveLength(n);
      expect(types.filter((t) => t === 'task.succeeded')).toHaveLength(1);
      expect((await b.getResult(claimed!.id))?.status).toBe('succeeded');
      expect((await b.verifyChain(s.id)).ok).toBe(true);
    } finally {
      pg.Client.prototype.query = query;
      await a.close();
      await b.close();
    }
  });

  it('accepts heads signed by any registered node key, and refuses them once the key is revoked', async () => {
    await truncateAll(db!.url);
    const { store: a, signer: keyA } = await openPgNode();
    const { store: b, signer: keyB } = await openPgNode();
    try {
      const [s1] = await scriptedRun(a);
      const head = await a.signTreeHead(s1!);
      expect(head?.keyId).toBe(keyA.keyId);
      expect(keyB.keyId).not.toBe(keyA.keyId);
      expect(await b.verifyChain(s1!)).toMatchObject({ ok: true });
      await pgExec(db!.url, 'UPDATE node_keys SET revoked_at = 1 WHERE key_id = $1', [keyA.keyId]);
      const v = await b.verifyChain(s1!);
      expect(v.ok).toBe(false);
      expect(v.broken?.reason).toMatch(/not this node's key/);
    } finally {
      await a.close();
      await b.close();
      await pgExec(db!.url, 'UPDATE node_keys SET revoked_at = NULL');
    }
  });

  it('notifies warden_tasks and warden_logs in the transactions that change tasks', async () => {
    await truncateAll(db!.url);
    const pgmod = (await import('pg')).default;
    const listener = new pgmod.Client({ connectionString: db!.url });
    await listener.connect();
    const got: { channel: string; payload: unknown }[] = [];
    listener.on('notification', (n) => got.push({ channel: n.channel, payload: JSON.parse(n.payload!) }));
    await listener.query('LISTEN warden_tasks');
    await listener.query('LISTEN warden_logs');
    const store = await openPg();
    try {
      const [s1] = await scriptedRun(store);
      await store.appendLogs([{ taskId: 'x', attempt: 1, line: 1, stream: 'stdout', message: 'hi', at: 1 }]);
      await new Promise((r) => setTimeout(r, 200));
      const states = got
        .filter((g) => g.channel === 'warden_tasks')
        .map((g) => g.payload as { taskId: string; state: string; sessionId: string });
      expect(states.length).toBeGreaterThan(10);
      expect(states).toContainEqual({
        taskId: '00000000-0000-7000-8000-000000000002',
        state: 'succeeded',
        sessionId: s1,
      });
      expect(states.map((s) => s.state)).toEqual(
        expect.arrayContaining(['queued', 'running', 'dead', 'cancelled', 'failed', 'quarantined']),
      );
      expect(got).toContainEqual({ channel: 'warden_logs', payload: { taskId: 'x' } });
    } finally {
      await store.close();
      await listener.end();
    }
  });

  it('refuses a schema newer than this build, and an unmigrated one without migrate', async () => {
    await pgExec(
      db!.url,
      "INSERT INTO warden_migrations (name, timestamp) VALUES ('9999-from-the-future', '2030-01-01')",
    );
    try {
      await expect(openPg()).rejects.toMatchObject({
        code: 'SCHEMA_TOO_NEW',
        message: /9999-from-the-future.*upgrade/,
      });
    } finally {
      await pgExec(db!.url, "DELETE FROM warden_migrations WHERE name = '9999-from-the-future'");
    }
    const empty = await freshDatabaseEmpty();
    try {
      await expect(
        openPgStore({ url: empty.url, keyDir: join(tempDir(), 'k'), migrate: false }),
      ).rejects.toMatchObject({ code: 'SCHEMA_BEHIND', message: /warden migrate/ });
    } finally {
      await empty.drop();
    }
  });

  it('migrates a new database once when several nodes open it at the same moment, and migrate applies nothing after', async () => {
    const empty = await freshDatabaseEmpty();
    try {
      const stores = await Promise.all(
        Array.from({ length: 5 }, () => openPgStore({ url: empty.url, keyDir: join(tempDir(), 'k') })),
      );
      for (const s of stores) await s.close();
      const rows = await pgExec<{ name: string }>(
        empty.url,
        'SELECT name FROM warden_migrations ORDER BY name',
      );
      expect(rows.map((r) => r.name)).toEqual([...MIGRATION_NAMES]);
      expect(await migratePostgres(empty.url)).toEqual([]);
      expect((await pgExec(empty.url, 'SELECT * FROM node_keys')).length).toBe(5);
    } finally {
      await empty.drop();
    }
  });

  it('maps an unreachable server to STORAGE_ERROR that says what to do', async () => {
    await expect(
      openPgStore({
        url: 'postgres://postgres@127.0.0.1:1/none',
        keyDir: join(tempDir(), 'k'),
        pool: { connectionTimeoutMs: 1000 },
      }),
    ).rejects.toMatchObject({ code: 'STORAGE_ERROR', message: /unreachable.*check that it is running/ });
  });

  it('survives its connections being killed: the pool drops them and the next call reconnects', async () => {
    await truncateAll(db!.url);
    const store = await openPg();
    try {
      await scriptedRun(store);
      await pgExec(
        db!.url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'warden' AND pid <> pg_backend_pid()",
      );
      await new Promise((r) => setTimeout(r, 100));
      // An idle client's error must not crash the process; a call may fail once, then works.
      let sessions = await store.listSessions().catch((e: { code: string }) => e.code);
      if (sessions === 'STORAGE_ERROR') sessions = await store.listSessions();
      expect(Array.isArray(sessions) && sessions.length).toBe(2);
    } finally {
      await store.close();
    }
  });
});

/** A database with no schema at all (not from the template). */
async function freshDatabaseEmpty() {
  const name = `${db!.name}_empty`;
  await pgExec(db!.url.replace(/\/[^/]*$/, '/test'), `CREATE DATABASE ${name}`);
  return {
    url: db!.url.replace(/\/[^/]*$/, `/${name}`),
    drop: async () =>
      void (await pgExec(
        db!.url.replace(/\/[^/]*$/, '/test'),
        `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`,
      )),
  };
}
