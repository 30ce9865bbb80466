// The PostgreSQL store's own claim throughput, on the Store port alone (no scheduler, no sandbox): N store
// instances (each its own pool, as N worker processes would have) drain a queue of no-op tasks, each one
// claim + finish (with the next claim in the same transaction, as the scheduler does). Also the per-task
// database cost: statements and WAL bytes. Needs PostgreSQL (WARDEN_BENCH_PG_URL); skipped without it.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { AgentManifest } from '../src/core/index.js';
import type { NewTask, Store } from '../src/store/index.js';
import { openPostgresStore } from '../src/store/postgres/index.js';

const URL_ = process.env['WARDEN_BENCH_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const TASKS = Number(process.env['WARDEN_BENCH_PG_TASKS'] ?? 3000);
const BATCH = 8;

function emit(name: string, value: number, unit: string, extra: Record<string, unknown> = {}) {
  process.stdout.write(`${JSON.stringify({ name, value: Number(value.toFixed(3)), unit, ...extra })}\n`);
}

async function admin(sql: string): Promise<pg.QueryResultRow[]> {
  const c = new pg.Client({ connectionString: URL_ });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

async function drain(store: Store, owner: string, runnable: string[]): Promise<number> {
  const base = { owner, leaseMs: 60_000, runnable, held: [], probing: [], limit: BATCH };
  let done = 0;
  let batch = (await store.claim({ ...base, now: Date.now() })).claimed;
  for (;;) {
    if (batch.length === 0) {
      const { byState } = await store.stats({ light: true });
      if (!byState['queued'] && !byState['running']) return done;
      batch = (await store.claim({ ...base, now: Date.now() })).claimed;
      continue;
    }
    const now = Date.now();
    const out = await store.finish(
      batch.map((c) => ({
        kind: 'succeeded' as const,
        taskId: c.id,
        sessionId: c.sessionId,
        agentKey: c.agentKey,
        owner,
        attempt: c.attempt,
        now,
        usage: null,
        outputJson: 'null',
        outputDigest: createHash('sha256').update('null').digest('hex'),
      })),
      [],
      { ...base, now },
    );
    done += batch.length;
    batch = out.next?.claimed ?? [];
  }
}

async function run(instances: number, url: string, keyDir: string): Promise<void> {
  const stores = await Promise.all(
    Array.from({ length: instances }, () => openPostgresStore({ url, keyDir, pool: { max: 2 } })),
  );
  const [first] = stores;
  const session = {
    id: randomBytes(8).toString('hex'),
    tenant: 'default',
    name: `bench-${instances}-${Date.now()}`,
    maxConcurrency: 1000,
    allowNetwork: false,
    policy: 'default',
    createdAt: Date.now(),
  };
  await first!.createSession(session);
  const agent = await first!.putAgent(
    { name: 'noop', version: '1.0.0', runtime: 'inline', concurrency: 1000 } as AgentManifest,
    null,
    Date.now(),
  );
  const t0 = Date.now();
  const tasks: NewTask[] = Array.from({ length: TASKS }, (_, i) => ({
    id: `0190${(t0 + i).toString(16).padStart(12, '0')}-${randomBytes(6).toString('hex')}`,
    sessionId: session.id,
    agentKey: agent.key,
    priority: 'normal',
    maxAttempts: 1,
    inputJson: '{}',
    inputDigest: 'x',
    deadline: null,
    timeoutMs: null,
    idempotencyKey: null,
    metadata: {},
    now: t0,
  }));
  for (let i = 0; i < tasks.length; i += 500) await first!.submit(tasks.slice(i, i + 500));
  const [before] = await admin(
    'SELECT pg_current_wal_lsn() AS lsn, (SELECT sum(xact_commit) FROM pg_stat_database) AS commits',
  );
  const started = process.hrtime.bigint();
  const counts = await Promise.all(stores.map((s, i) => drain(s, `w${i}`, [agent.key])));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const [after] = await admin(
    `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '${before!['lsn']}') AS wal,
       (SELECT sum(xact_commit) FROM pg_stat_database) - ${before!['commits']} AS commits`,
  );
  const total = counts.reduce((a, b) => a + b, 0);
  if (total !== TASKS) throw new Error(`drained ${total} of ${TASKS}`);
  emit(`pg store: claim+finish, ${instances} store instance(s)`, total / seconds, 'tasks/s', {
    walBytesPerTask: Math.round(Number(after!['wal']) / total),
    commitsPerTask: Number((Number(after!['commits']) / total).toFixed(2)),
  });
  for (const s of stores) await s.close();
}

const probe = new pg.Client({ connectionString: URL_, connectionTimeoutMillis: 2000 });
try {
  await probe.connect();
  await probe.end();
} catch {
  console.error(`PostgreSQL is not reachable at ${URL_}: skipping the PostgreSQL store benchmark`);
  process.exit(0);
}
const name = `warden_bench_${randomBytes(4).toString('hex')}`;
await admin(`CREATE DATABASE ${name}`);
const dbUrl = URL_.replace(/\/[^/]*$/, `/${name}`);
const keyDir = mkdtempSync(join(tmpdir(), 'warden-bench-keys-'));
try {
  for (const n of [1, 2, 4]) await run(n, dbUrl, keyDir);
} finally {
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  rmSync(keyDir, { recursive: true, force: true });
}
