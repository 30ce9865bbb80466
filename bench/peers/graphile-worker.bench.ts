// Peer benchmark: graphile-worker (PostgreSQL) no-op throughput, batched throughput and
// submit-to-result latency.
// Run: node --import tsx bench/peers/graphile-worker.bench.ts
// Prints only JSON lines on stdout; diagnostics go to stderr. Exits 0 without output if PostgreSQL is down.
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Logger, run, runMigrations, type Runner, type TaskList, type WorkerEvents } from 'graphile-worker';

const PG_BASE = (process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');
const DB_NAME = 'warden_bench_gw';
const ADMIN_URL = `${PG_BASE}/postgres`;
const BENCH_URL = `${PG_BASE}/${DB_NAME}`;
const N = 20_000;
const CONCURRENCY = 50;
const INSERT_CHUNK = 1_000;
const BATCH_SIZE = 100; // items per batch job (payload array length) for the batched figure
const LATENCY_WARMUP = 500;
const LATENCY_SAMPLES = 1_000;
const POLL_INTERVAL = 100;
const WATCHDOG_MS = 150_000;

// Only warnings and errors, and only to stderr: stdout is reserved for JSON lines.
const logger = new Logger((scope) => (level, message) => {
  const l: string = level;
  if (l === 'error' || l === 'warning')
    console.error(`[graphile-worker ${l}] ${scope.label ?? ''} ${message}`);
});

function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] ?? Number.NaN;
}

function adminClient(): pg.Client {
  return new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3_000 });
}

async function pgReachable(): Promise<boolean> {
  const c = adminClient();
  c.on('error', () => {});
  try {
    await c.connect();
    await c.query('select 1');
    return true;
  } catch (err) {
    console.error(
      'graphile-worker peer bench: PostgreSQL connect failed:',
      err instanceof Error ? err.message : err,
    );
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

async function createFreshDatabase(): Promise<void> {
  const c = adminClient();
  await c.connect();
  try {
    // `with (force)` only here: any session still on the database is a leftover of an earlier, crashed run.
    await c.query(`drop database if exists ${DB_NAME} with (force)`);
    await c.query(`create database ${DB_NAME}`);
  } finally {
    await c.end();
  }
}

/** Drops the bench database once our own (closing) connections have gone; pg's Pool.end() resolves
 *  before the server has seen every socket close, and force-terminating them makes pg emit errors. */
async function dropDatabase(): Promise<void> {
  const c = adminClient();
  await c.connect();
  try {
    for (let i = 0; i < 50; i++) {
      const res = await c.query<{ n: number }>(
        'select count(*)::int as n from pg_stat_activity where datname = $1',
        [DB_NAME],
      );
      if ((res.rows[0]?.n ?? 0) === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await c.query(`drop database if exists ${DB_NAME} with (force)`);
  } finally {
    await c.end();
  }
}

/** Inserts `count` jobs for `identifier` via graphile_worker.add_jobs, INSERT_CHUNK specs per call.
 *  With batchSize > 1 each job's payload is an array of batchSize objects (a graphile "batch job"). */
async function insertJobs(
  pool: pg.Pool,
  identifier: string,
  count: number,
  batchSize: number,
): Promise<void> {
  for (let start = 0; start < count; start += INSERT_CHUNK) {
    const end = Math.min(count, start + INSERT_CHUNK) - 1;
    const payload =
      batchSize > 1
        ? `(select json_agg(json_build_object('i', g * ${batchSize} + k)) from generate_series(0, ${batchSize - 1}) k)`
        : `json_build_object('i', g)`;
    const res = await pool.query<{ n: number }>(
      `select count(*)::int as n from graphile_worker.add_jobs(array(
         select row($1::text, ${payload}, null, null, null, null, null, null)::graphile_worker.job_spec
         from generate_series($2::int, $3::int) g))`,
      [identifier, start, end],
    );
    if (res.rows[0]?.n !== end - start + 1)
      throw new Error(`add_jobs inserted ${res.rows[0]?.n}, expected ${end - start + 1}`);
  }
}

async function remainingJobs(pool: pg.Pool): Promise<number> {
  const res = await pool.query<{ n: number }>('select count(*)::int as n from graphile_worker._private_jobs');
  return res.rows[0]?.n ?? -1;
}

const taskList: TaskList = {
  noop: async () => {},
  // Batch job: payload is an array; returning one promise per entry gives per-entry success/failure.
  noop_batch: async (payload) => (Array.isArray(payload) ? payload.map(() => Promise.resolve()) : undefined),
};

function startRunner(concurrency: number, events: WorkerEvents): Promise<Runner> {
  return run({
    connectionString: BENCH_URL,
    concurrency,
    maxPoolSize: Math.max(10, concurrency), // graphile warns (and slows) when the pool is smaller than concurrency
    noHandleSignals: true,
    pollInterval: POLL_INTERVAL,
    taskList,
    logger,
    events,
  });
}

async function throughput(
  pool: pg.Pool,
  identifier: 'noop' | 'noop_batch',
  batchSize: number,
): Promise<void> {
  const dbJobs = N / batchSize;
  await insertJobs(pool, identifier, dbJobs, batchSize);

  const events = new EventEmitter() as WorkerEvents;
  let items = 0;
  let errors = 0;
  let resolveDone: () => void = () => {};
  const allDone = new Promise<void>((r) => (resolveDone = r));
  events.on('job:complete', ({ job, error }) => {
    if (error != null) {
      errors++;
      console.error('graphile-worker job failed:', error);
    } else {
      items += Array.isArray(job.payload) ? job.payload.length : 1;
    }
    if (items + errors >= N) resolveDone();
  });

  const t0 = performance.now();
  const runner = await startRunner(CONCURRENCY, events);
  try {
    await allDone;
    const elapsedMs = performance.now() - t0;
    if (errors > 0) throw new Error(`${errors} graphile-worker jobs failed`);
    const left = await remainingJobs(pool); // sanity check, outside the timed section
    if (left !== 0) throw new Error(`jobs table not empty after run: ${left} left`);
    const line: Record<string, unknown> = {
      name:
        batchSize > 1
          ? 'peer graphile-worker no-op throughput (batched)'
          : 'peer graphile-worker no-op throughput',
      value: round(N / (elapsedMs / 1000), 1),
      unit: 'tasks/s',
      jobs: N,
      concurrency: CONCURRENCY,
    };
    if (batchSize > 1) Object.assign(line, { batchSize, dbJobs });
    emit(line);
  } finally {
    await runner.stop();
  }
}

async function latency(): Promise<void> {
  const events = new EventEmitter() as WorkerEvents;
  const waiting = new Map<string, (err: unknown) => void>();
  const early = new Map<string, unknown>(); // completions that beat addJob's return
  events.on('job:complete', ({ job, error }) => {
    const w = waiting.get(job.id);
    if (w) {
      waiting.delete(job.id);
      w(error);
    } else {
      early.set(job.id, error);
    }
  });
  const runner = await startRunner(1, events);
  try {
    const samples: number[] = [];
    for (let i = 0; i < LATENCY_WARMUP + LATENCY_SAMPLES; i++) {
      const t0 = performance.now();
      const job = await runner.addJob('noop', { i });
      const error = early.has(job.id)
        ? early.get(job.id)
        : await new Promise<unknown>((resolve, reject) => {
            const timer = setTimeout(() => {
              waiting.delete(job.id);
              reject(new Error(`job ${job.id} did not complete within 10 s`));
            }, 10_000);
            waiting.set(job.id, (err) => {
              clearTimeout(timer);
              resolve(err);
            });
          });
      early.delete(job.id);
      const ms = performance.now() - t0;
      if (error != null) throw new Error(`latency job failed: ${String(error)}`);
      if (i >= LATENCY_WARMUP) samples.push(ms);
    }
    samples.sort((a, b) => a - b);
    emit({
      name: 'peer graphile-worker submit-to-result latency p50',
      value: round(percentile(samples, 50), 3),
      unit: 'ms',
    });
    emit({
      name: 'peer graphile-worker submit-to-result latency p99',
      value: round(percentile(samples, 99), 3),
      unit: 'ms',
    });
  } finally {
    await runner.stop();
  }
}

async function main(): Promise<void> {
  if (!(await pgReachable())) {
    console.error(`graphile-worker peer bench: PostgreSQL not reachable at ${ADMIN_URL}; skipping`);
    return;
  }
  const watchdog = setTimeout(() => {
    console.error(`graphile-worker peer bench: watchdog fired after ${WATCHDOG_MS} ms; aborting`);
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();

  await createFreshDatabase();
  const pool = new pg.Pool({ connectionString: BENCH_URL, max: 2, connectionTimeoutMillis: 5_000 });
  pool.on('error', (err) => console.error('pg pool error:', err));
  try {
    await runMigrations({ connectionString: BENCH_URL, logger });
    await throughput(pool, 'noop', 1);
    await throughput(pool, 'noop_batch', BATCH_SIZE);
    await latency();
  } finally {
    await pool.end().catch((err: unknown) => console.error('pool.end failed:', err));
    await dropDatabase().catch((err: unknown) => console.error('drop database failed:', err));
  }
}

main().catch((err: unknown) => {
  console.error('graphile-worker peer bench failed:', err);
  process.exitCode = 1;
});
