// The PostgreSQL store's own claim throughput, on the Store port alone (no scheduler, no sandbox): N store
// instances (each its own pool, as N worker processes would have) drain a queue of no-op tasks, each one
// claim + finish (with the next claim in the same transaction, as the scheduler does). Also the per-task
// database cost: statements (counted at the client: every pg query call, BEGIN and COMMIT included) and WAL
// bytes; and single-task latencies at light load (submit, claim, finish, submit -> claim -> finish).
// Stable names: `pg store claim+finish throughput, N instance(s)`, `pg store statements per task, N ...`,
// `pg store WAL bytes per task, N ...`, `pg store latency <op> p50|p99`. Needs PostgreSQL
// (WARDEN_BENCH_PG_URL); skipped without it. Knobs: WARDEN_BENCH_PG_TASKS (3000), WARDEN_BENCH_PG_BATCH (8;
// the scheduler claims as many as it has free slots), WARDEN_BENCH_PG_INSTANCES (1,2,4),
// WARDEN_BENCH_PG_SAMPLES (300 latency samples), WARDEN_BENCH_PG_TRACE=1 (time per statement, to stderr).
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { AgentManifest } from '../src/core/index.js';
import type { NewTask, Store } from '../src/store/index.js';
import { loadOrCreateTreeHeadKey } from '../src/provenance/index.js';
import { openPostgresStore } from '../src/store/postgres/index.js';

const URL_ = process.env['WARDEN_BENCH_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const TASKS = Number(process.env['WARDEN_BENCH_PG_TASKS'] ?? 3000);
const BATCH = Number(process.env['WARDEN_BENCH_PG_BATCH'] ?? 8);
const LATENCY_SAMPLES = Number(process.env['WARDEN_BENCH_PG_SAMPLES'] ?? 300);

// Counts statements at the client (pg_stat_statements is usually not loaded): every Client.query call.
let statements = 0;
const clientQuery = pg.Client.prototype.query;
// WARDEN_BENCH_PG_TRACE=1: also the client-side time of each statement (by prepared name or first words),
// printed to stderr per phase.
const trace = process.env['WARDEN_BENCH_PG_TRACE'] === '1';
const traced = new Map<string, number[]>();
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  statements++;
  const out = (clientQuery as (...a: unknown[]) => unknown).apply(this, args);
  if (trace && out instanceof Promise) {
    const q = args[0] as string | { name?: string; text: string };
    const key = typeof q === 'string' ? q.slice(0, 24) : (q.name ?? q.text.slice(0, 24));
    const t0 = process.hrtime.bigint();
    out.then(
      () => traced.set(key, [...(traced.get(key) ?? []), Number(process.hrtime.bigint() - t0) / 1e6]),
      () => undefined,
    );
  }
  return out;
} as typeof clientQuery;

function dumpTrace(phase: string): void {
  if (!trace) return;
  for (const [key, xs] of traced) {
    xs.sort((a, b) => a - b);
    const sum = xs.reduce((a, b) => a + b, 0);
    console.error(
      `${phase}: ${key.padEnd(24)} n=${xs.length} p50=${percentile(xs, 50).toFixed(3)} ms total=${sum.toFixed(0)} ms`,
    );
  }
  traced.clear();
}

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

async function setup(first: Store, label: string) {
  const session = {
    id: randomBytes(8).toString('hex'),
    tenant: 'default',
    name: `bench-${label}-${Date.now()}`,
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
  return { session, agent };
}

function newTask(sessionId: string, agentKey: string, now: number, i: number): NewTask {
  return {
    id: `0190${(now + i).toString(16).padStart(12, '0')}-${randomBytes(6).toString('hex')}`,
    sessionId,
    agentKey,
    priority: 'normal',
    maxAttempts: 1,
    inputJson: '{}',
    inputDigest: 'x',
    deadline: null,
    timeoutMs: null,
    idempotencyKey: null,
    metadata: {},
    now,
  };
}

async function run(instances: number, url: string, keyDir: string): Promise<void> {
  const stores = await Promise.all(
    Array.from({ length: instances }, () =>
      openPostgresStore({ url, keyDir, pool: { max: 2 } }, loadOrCreateTreeHeadKey(keyDir)),
    ),
  );
  const [first] = stores;
  const { session, agent } = await setup(first!, String(instances));
  const t0 = Date.now();
  const tasks = Array.from({ length: TASKS }, (_, i) => newTask(session.id, agent.key, t0, i));
  for (let i = 0; i < tasks.length; i += 500) await first!.submit(tasks.slice(i, i + 500));
  const [before] = await admin(
    'SELECT pg_current_wal_lsn() AS lsn, (SELECT sum(xact_commit) FROM pg_stat_database) AS commits',
  );
  traced.clear();
  const statementsBefore = statements;
  const started = process.hrtime.bigint();
  const counts = await Promise.all(stores.map((s, i) => drain(s, `w${i}`, [agent.key])));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const perTask = (statements - statementsBefore) / TASKS;
  dumpTrace(`${instances} instance(s)`);
  const [after] = await admin(
    `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '${before!['lsn']}') AS wal,
       (SELECT sum(xact_commit) FROM pg_stat_database) - ${before!['commits']} AS commits`,
  );
  const total = counts.reduce((a, b) => a + b, 0);
  if (total !== TASKS) throw new Error(`drained ${total} of ${TASKS}`);
  const label = `${instances} instance(s)`;
  emit(`pg store claim+finish throughput, ${label}`, total / seconds, 'tasks/s', { batch: BATCH });
  emit(`pg store statements per task, ${label}`, perTask, 'statements');
  emit(`pg store WAL bytes per task, ${label}`, Number(after!['wal']) / total, 'bytes');
  emit(`pg store commits per task, ${label}`, Number(after!['commits']) / total, 'commits');
  for (const s of stores) await s.close();
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

/** One task at a time through one store instance: what a lone caller waits for at light load. */
async function latencies(url: string, keyDir: string): Promise<void> {
  const store = await openPostgresStore({ url, keyDir, pool: { max: 2 } }, loadOrCreateTreeHeadKey(keyDir));
  const { session, agent } = await setup(store, 'latency');
  const samples = {
    submit: [] as number[],
    claim: [] as number[],
    finish: [] as number[],
    total: [] as number[],
  };
  const ms = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e6;
  for (let i = 0; i < LATENCY_SAMPLES + 20; i++) {
    const t = newTask(session.id, agent.key, Date.now(), i);
    const t0 = process.hrtime.bigint();
    await store.submit([t]);
    const t1 = process.hrtime.bigint();
    const base = { owner: 'lat', leaseMs: 60_000, runnable: [agent.key], held: [], probing: [], limit: 1 };
    const [c] = (await store.claim({ ...base, now: Date.now() })).claimed;
    if (c?.id !== t.id) throw new Error(`claimed ${c?.id ?? 'nothing'}, expected ${t.id}`);
    const t2 = process.hrtime.bigint();
    const out = await store.finish(
      [
        {
          kind: 'succeeded',
          taskId: c.id,
          sessionId: c.sessionId,
          agentKey: c.agentKey,
          owner: 'lat',
          attempt: c.attempt,
          now: Date.now(),
          usage: null,
          outputJson: 'null',
          outputDigest: createHash('sha256').update('null').digest('hex'),
        },
      ],
      [],
    );
    if (!out.applied[0]) throw new Error('finish not applied');
    if (i < 20) {
      traced.clear();
      continue; // warm-up: connections, prepared statements, caches
    }
    samples.submit.push(Number(t1 - t0) / 1e6);
    samples.claim.push(Number(t2 - t1) / 1e6);
    samples.finish.push(ms(t2));
    samples.total.push(ms(t0));
  }
  dumpTrace('latency');
  const names = { submit: 'submit', claim: 'claim', finish: 'finish', total: 'submit->claim->finish' };
  for (const [k, xs] of Object.entries(samples)) {
    xs.sort((a, b) => a - b);
    const n = names[k as keyof typeof names];
    emit(`pg store latency ${n} p50`, percentile(xs, 50), 'ms');
    emit(`pg store latency ${n} p99`, percentile(xs, 99), 'ms');
  }
  await store.close();
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
  const only = process.env['WARDEN_BENCH_PG_INSTANCES'];
  for (const n of only ? only.split(',').map(Number) : [1, 2, 4]) await run(n, dbUrl, keyDir);
  await latencies(dbUrl, keyDir);
} finally {
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  rmSync(keyDir, { recursive: true, force: true });
}
