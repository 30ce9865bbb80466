// Warden on PostgreSQL (issue 13): no-op throughput with 1, 2 and 4 worker processes on one database, the
// per-task database cost that decides scaling on bigger hardware, and submit->result latency at light load.
// graphile-worker's figures on the same PostgreSQL come from bench/peers/graphile-worker.bench.ts in the
// same `npm run bench`. Prints nothing (and says why on stderr) when PostgreSQL is unreachable.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Warden } from '../src/index.js';

const PG_BASE = (process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');
const DB_NAME = 'warden_bench_pg';
const URL = `${PG_BASE}/${DB_NAME}`;
const JOBS = Number(process.env.BENCH_PG_JOBS ?? 6_000);
const WORKER_COUNTS = [1, 2, 4];
// The same as graphile-worker's latency run (bench/peers/graphile-worker.bench.ts).
const LATENCY_WARMUP = 500;
const LATENCY_SAMPLES = 1_000;
const HERE = dirname(fileURLToPath(import.meta.url));

function emit(name: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ name, value: Number(value.toFixed(3)), unit, ...extra })}\n`);
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
  const c = new pg.Client({ connectionString: `${PG_BASE}/${database}`, connectionTimeoutMillis: 3000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function freshDatabase(): Promise<void> {
  await admin(async (c) => {
    await c.query(`drop database if exists ${DB_NAME} with (force)`);
    await c.query(`create database ${DB_NAME}`);
  });
}

/** Server-side counters that say what the run cost PostgreSQL: WAL bytes and committed transactions. */
async function serverCounters(): Promise<{ walLsn: string; commits: number }> {
  return admin(async (c) => {
    const wal = await c.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn');
    const db = await c.query<{ commits: string }>(
      'select xact_commit::text as commits from pg_stat_database where datname = $1',
      [DB_NAME],
    );
    return { walLsn: wal.rows[0]!.lsn, commits: Number(db.rows[0]?.commits ?? 0) };
  });
}

async function walBytesSince(lsn: string): Promise<number> {
  return admin(async (c) => {
    const r = await c.query<{ bytes: string }>(
      'select pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::text as bytes',
      [lsn],
    );
    return Number(r.rows[0]!.bytes);
  });
}

async function succeededCount(): Promise<number> {
  return admin(
    async (c) =>
      Number(
        (await c.query<{ n: string }>("select count(*)::text as n from tasks where state = 'succeeded'"))
          .rows[0]!.n,
      ),
    DB_NAME,
  );
}

interface WorkerProcess {
  proc: ChildProcess;
  lines: AsyncIterator<string>;
}

function startWorker(root: string): WorkerProcess {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(HERE, 'lib', 'pg-worker.ts'), URL, root], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  return { proc, lines };
}

async function nextJson(w: WorkerProcess): Promise<Record<string, number | boolean>> {
  const { value, done } = await w.lines.next();
  if (done) throw new Error('a worker process ended early');
  return JSON.parse(value) as Record<string, number | boolean>;
}

/**
 * Queues JOBS no-op tasks, in `sessions` sessions: one session is one provenance chain, whose appends are
 * serialised, so one session measures a single chain's limit and several measure what workers share. The
 * sessions' caps are high, so that this measures chains and claims, not the exact cap checks that a
 * session near its cap (the default maxConcurrency is 16) takes on every claim.
 */
async function prefill(root: string, sessions: number): Promise<{ ms: number; statements: number }> {
  const warden = await Warden.open({ storage: { postgres: URL, root }, workers: false });
  try {
    await warden.registerHandler('noop', () => null);
    for (let i = 0; i < sessions && sessions > 1; i++)
      await warden.ensureSession({ name: `s${i}`, maxConcurrency: 1000 });
    const t0 = performance.now();
    for (let start = 0; start < JOBS; start += 1000)
      await Promise.all(
        Array.from({ length: Math.min(1000, JOBS - start) }, (_, k) =>
          warden.submit({
            agent: 'noop',
            input: { k: start + k },
            ...(sessions > 1 ? { session: `s${(start + k) % sessions}` } : {}),
          }),
        ),
      );
    return { ms: performance.now() - t0, statements: 0 };
  } finally {
    await warden.close();
  }
}

async function drain(workers: number, sessions: number): Promise<void> {
  await freshDatabase();
  const root = mkdtempSync(join(tmpdir(), 'warden-bench-pg-'));
  const procs: WorkerProcess[] = [];
  try {
    const submitted = await prefill(root, sessions);
    if (workers === 1 && sessions === 1)
      emit('warden submit throughput on PostgreSQL', (JOBS / submitted.ms) * 1000, 'tasks/s', { jobs: JOBS });
    for (let i = 0; i < workers; i++)
      procs.push(startWorker(mkdtempSync(join(tmpdir(), 'warden-bench-pgw-'))));
    for (const w of procs) await nextJson(w); // ready
    const before = await serverCounters();
    const t0 = performance.now();
    for (const w of procs) w.proc.stdin!.write('go\n');
    while ((await succeededCount()) < JOBS) await new Promise((r) => setTimeout(r, 20));
    const ms = performance.now() - t0;
    const wal = await walBytesSince(before.walLsn);
    const after = await serverCounters();
    for (const w of procs) w.proc.kill('SIGTERM');
    let statements = 0;
    for (const w of procs) statements += Number((await nextJson(w))['statements']);
    emit(
      `warden no-op throughput on PostgreSQL, ${workers} worker process${workers > 1 ? 'es' : ''}${sessions > 1 ? `, ${sessions} sessions` : ''}`,
      (JOBS / ms) * 1000,
      'tasks/s',
      {
        jobs: JOBS,
        workers,
      },
    );
    if (workers === 1 && sessions === 1) {
      emit(
        'warden PostgreSQL cost per task: statements (round trips)',
        statements / JOBS,
        'statements/task',
        {
          jobs: JOBS,
        },
      );
      emit('warden PostgreSQL cost per task: WAL bytes', wal / JOBS, 'bytes/task', { jobs: JOBS });
      emit(
        'warden PostgreSQL cost per task: commits',
        (after.commits - before.commits) / JOBS,
        'commits/task',
        {
          jobs: JOBS,
        },
      );
    }
  } finally {
    for (const w of procs) if (w.proc.exitCode === null) w.proc.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  }
}

async function latency(): Promise<void> {
  await freshDatabase();
  const root = mkdtempSync(join(tmpdir(), 'warden-bench-pg-'));
  try {
    const warden = await Warden.open({ storage: { postgres: URL, root }, workers: { concurrency: 4 } });
    await warden.registerHandler('noop', () => null);
    const samples: number[] = [];
    // Steady state: the first LATENCY_WARMUP rounds (JIT, prepared statements, caches) are not counted.
    for (let i = 0; i < LATENCY_WARMUP + LATENCY_SAMPLES; i++) {
      const s = performance.now();
      const t = await warden.submit({ agent: 'noop', input: { i } });
      await warden.result(t.id);
      if (i >= LATENCY_WARMUP) samples.push(performance.now() - s);
    }
    await warden.close();
    samples.sort((a, b) => a - b);
    const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
    emit('warden submit-to-result latency on PostgreSQL p50', at(0.5), 'ms', {
      samples: samples.length,
      target: '≤ 3 ms',
    });
    emit('warden submit-to-result latency on PostgreSQL p99', at(0.99), 'ms', { samples: samples.length });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

try {
  await admin(async (c) => c.query('select 1'));
} catch (err) {
  console.error(
    `postgres bench: PostgreSQL not reachable at ${PG_BASE} (${(err as Error).message}); skipping`,
  );
  process.exit(0);
}
try {
  for (const sessions of [1, 8]) for (const n of WORKER_COUNTS) await drain(n, sessions);
  await latency();
} finally {
  await admin(async (c) => c.query(`drop database if exists ${DB_NAME} with (force)`)).catch(() => undefined);
}
