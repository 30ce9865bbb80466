import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Warden, type HandlerOptions } from '../../src/index.js';
import { sleep, tempDir } from '../helpers.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from './pg.js';

// Circuit breakers count across processes (issue 13): two Warden instances on one PostgreSQL database,
// each with its own connections, workers and breaker cache, fail one agent version at the same moment.
// The stored breaker must count every failure once, whichever instance saw it.

const pgOk = await requirePostgres('the shared circuit-breaker test');
const THRESHOLD = 4;
const PER_INSTANCE = THRESHOLD / 2;
const FLAKY: HandlerOptions = {
  retry: { maxAttempts: 1 },
  circuitBreaker: { failureThreshold: THRESHOLD, cooldownMs: 3_600_000 },
};

describe.skipIf(!pgOk)('circuit breakers shared by two instances on PostgreSQL', () => {
  let db: TestDatabase;
  const opened: Warden[] = [];
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    for (const w of opened) await w.close().catch(() => undefined);
    await db?.drop();
  });

  const breakerRow = async () => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows } = await c.query<{ state: string; consecutive_failures: number }>(
        "SELECT state, consecutive_failures FROM circuit_breakers WHERE agent_key = 'flaky@1.0.0'",
      );
      return rows[0];
    } finally {
      await c.end();
    }
  };

  it('opens after exactly its threshold of failures, counted over both instances', async () => {
    // Every run waits until THRESHOLD runs have started, so each instance (PER_INSTANCE slots) runs half of
    // them with the same stale view of the breaker, and all of them fail before either sees the other's.
    let started = 0;
    const ranBy: string[] = [];
    const open = async (name: string) => {
      const w = await Warden.open({
        storage: { root: tempDir(), postgres: db.url },
        workers: { concurrency: PER_INSTANCE, pollIntervalMs: 20, workerId: name },
      });
      opened.push(w);
      await w.registerHandler(
        'flaky',
        async () => {
          started++;
          ranBy.push(name);
          const until = Date.now() + 10_000;
          while (started < THRESHOLD && Date.now() < until) await sleep(5);
          throw new Error('down');
        },
        FLAKY,
      );
      return w;
    };
    const a = await open('a');
    const b = await open('b');

    const ids: string[] = [];
    for (let i = 0; i < THRESHOLD; i++) ids.push((await (i % 2 ? a : b).submit({ agent: 'flaky' })).id);
    for (const id of ids) expect((await a.result(id, { timeoutMs: 20_000 }))?.status).toBe('dead');
    expect(ranBy.filter((n) => n === 'a')).toHaveLength(PER_INSTANCE);
    expect(ranBy.filter((n) => n === 'b')).toHaveLength(PER_INSTANCE);

    expect(await breakerRow()).toEqual({ state: 'open', consecutive_failures: THRESHOLD });
    // Once each instance re-read the breakers (every 2 s), both hold the version's next task.
    await sleep(2_300);
    const held = await a.submit({ agent: 'flaky' });
    await sleep(300);
    expect((await b.getTask(held.id)).state).toBe('queued');
    expect(started).toBe(THRESHOLD);
    for (const w of [a, b])
      expect((await w.agentStatus()).find((s) => s.key === 'flaky@1.0.0')?.breaker).toMatchObject({
        state: 'open',
        consecutiveFailures: THRESHOLD,
      });
  }, 60_000);
});
