import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalChangeFeed, PostgresChangeFeed, type TaskChange } from '../../src/store/index.js';
import { Warden } from '../../src/index.js';
import { eventually, sleep, tempDir } from '../helpers.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from './pg.js';

describe('the local change feed', () => {
  it("delivers this process's changes to every follower until each unsubscribes", () => {
    const feed = new LocalChangeFeed();
    const a: TaskChange[] = [];
    const b: string[] = [];
    const offA = feed.onTask((c) => a.push(c));
    const offB = feed.onLog((c) => b.push(c.taskId));
    // A follower that throws does not keep the change from the others.
    const offBad = feed.onTask(() => {
      throw new Error('buggy follower');
    });
    feed.publishTask({ taskId: 't1', state: 'queued', sessionId: 's' });
    feed.publishLog({ taskId: 't1' });
    offA();
    offB();
    offBad();
    feed.publishTask({ taskId: 't2', state: 'running', sessionId: 's' });
    expect(a).toEqual([{ taskId: 't1', state: 'queued', sessionId: 's' }]);
    expect(b).toEqual(['t1']);
    expect(feed.reach).toBe('local');
  });
});

const pgOk = await requirePostgres('the PostgreSQL change feed tests');

describe.skipIf(!pgOk)('the PostgreSQL change feed (LISTEN warden_tasks / warden_logs)', () => {
  let db: TestDatabase;
  let sender: pg.Client;
  const feeds: PostgresChangeFeed[] = [];
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
    sender = new pg.Client({ connectionString: db.url });
    await sender.connect();
  });
  afterEach(async () => {
    for (const f of feeds.splice(0)) await f.close();
  });
  afterAll(async () => {
    await sender?.end();
    await db?.drop();
  });

  const notify = (channel: string, payload: string) =>
    sender.query('select pg_notify($1, $2)', [channel, payload]);

  it("delivers another connection's notifications, and ignores payloads that are not ours", async () => {
    const feed = await PostgresChangeFeed.open({ url: db.url });
    feeds.push(feed);
    expect(feed.reach).toBe('shared');
    const tasks: TaskChange[] = [];
    const logs: string[] = [];
    feed.onTask((c) => tasks.push(c));
    feed.onLog((c) => logs.push(c.taskId));
    await notify('warden_tasks', 'not json');
    await notify('warden_tasks', '{"nope":1}');
    await notify('warden_tasks', JSON.stringify({ taskId: 'a', state: 'succeeded', sessionId: 's1' }));
    await notify('warden_logs', JSON.stringify({ taskId: 'a' }));
    await eventually(() => tasks.length === 1 && logs.length === 1, 5000, 'the notifications');
    expect(tasks).toEqual([{ taskId: 'a', state: 'succeeded', sessionId: 's1' }]);
    expect(logs).toEqual(['a']);
  });

  it('reconnects when its connection is killed, tells followers to resync, and hears later changes', async () => {
    const feed = await PostgresChangeFeed.open({ url: db.url, reconnectDelayMs: 20 });
    feeds.push(feed);
    let resyncs = 0;
    const seen: string[] = [];
    feed.onResync(() => resyncs++);
    feed.onTask((c) => seen.push(c.taskId));
    // What a PostgreSQL restart does to the listening connection.
    const killed = await sender.query(
      "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'warden change feed' and datname = $1",
      [db.name],
    );
    expect(killed.rowCount).toBeGreaterThan(0);
    await eventually(() => resyncs === 1, 10_000, 'the feed to reconnect');
    expect(feed.connections).toBe(2);
    await notify('warden_tasks', JSON.stringify({ taskId: 'after', state: 'queued', sessionId: 's' }));
    await eventually(() => seen.includes('after'), 5000, 'a change after the reconnect');
  });

  it('fails to open with a coded error when PostgreSQL cannot be reached', async () => {
    await expect(
      PostgresChangeFeed.open({ url: 'postgres://postgres:secret@127.0.0.1:1/x' }),
    ).rejects.toMatchObject({
      code: 'STORAGE_ERROR',
      message: expect.not.stringContaining('secret'),
    });
  });
});

describe.skipIf(!pgOk)('two Warden processes on one PostgreSQL database, through the feed', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  it("an idle worker claims another process's submit, and the submitter's result() wakes, well before any poll", async () => {
    // Polls far slower than the waits below: only the notifications can explain a prompt result.
    const POLL_MS = 10_000;
    const worker = await Warden.open({
      storage: { root: tempDir(), postgres: db.url },
      workers: { pollIntervalMs: POLL_MS, concurrency: 2 },
    });
    const api = await Warden.open({ storage: { root: tempDir(), postgres: db.url }, workers: false });
    try {
      await worker.registerHandler('double', (i: { n: number }) => ({ n: i.n * 2 }), { shared: true });
      await sleep(500); // the worker's first claim found nothing: it is idle now, until its next poll
      const started = Date.now();
      const task = await api.submit({ agent: 'double', input: { n: 21 } });
      const result = await api.result(task, { timeoutMs: POLL_MS / 2 });
      expect(result).toMatchObject({ status: 'succeeded', output: { n: 42 } });
      expect(Date.now() - started).toBeLessThan(POLL_MS / 2);
    } finally {
      await api.close();
      await worker.close();
    }
  });

  it('a submit into an idle queue starts running in its own transaction, a drained worker sends no empty claims, and result() of a task run here reads nothing', async () => {
    // Counted at the client: every statement this process sends (its pool and its feed).
    const sent: string[] = [];
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const first = args[0] as string | { name?: string; text?: string };
      sent.push(typeof first === 'string' ? first : (first.name ?? first.text ?? ''));
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
    const warden = await Warden.open({
      storage: { root: tempDir(), postgres: db.url },
      workers: { pollIntervalMs: 10_000, concurrency: 4 },
    });
    try {
      await warden.registerHandler('echo', (i: { n: number }) => i);
      // Once idle (the first claims found the queue empty), each task costs one submit and one finish.
      await warden.result(await warden.submit({ agent: 'echo', input: { n: 0 } }));
      await sleep(300);
      sent.length = 0;
      const rounds = 20;
      for (let n = 1; n <= rounds; n++) {
        const result = await warden.result(await warden.submit({ agent: 'echo', input: { n } }));
        expect(result).toMatchObject({ status: 'succeeded', output: { n } });
      }
      await sleep(100);
      const commits = sent.filter((q) => q === 'COMMIT').length;
      const claims = sent.filter((q) => q === 'warden_look' || q === 'warden_fence_look').length;
      // Before: a submit, a claim, a finish, and an empty claim after each (plus one for the echo of the submit).
      expect(commits).toBeLessThanOrEqual(rounds * 2 + 2);
      expect(claims).toBeLessThanOrEqual(rounds + 2);
      // result() of a task this process runs waits for its finish: no look at the task or its result first.
      expect(sent.filter((q) => /FROM tasks WHERE id = \$1|FROM results/.test(q))).toEqual([]);
      expect(sent.length).toBeLessThanOrEqual(rounds * 10 + 6);
      // The tasks' records are all in the chain, in order: submitted, started, finished.
      const verified = await warden.verifyAll();
      expect(verified.map((v) => v.ok)).toEqual([true]);
    } finally {
      pg.Client.prototype.query = query;
      await warden.close();
    }
  });
});
