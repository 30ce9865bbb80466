// KPIs per agent version (docs/kpi.md) over a large history: the time of one `agentKpis` read on each
// backend, with 100,000 finished tasks, 90% of them on one "hot" version and the rest spread over nine
// others; 5% flagged, a fifth priced as LLM runs, 1,000 feedback scores. The history is written with SQL
// behind the store (the read is what is measured, not how the tasks got there).
// Stable names: `kpi <backend> <what> p50` (ms) for what in: all versions, hot version, cold version,
// hot version for a tenant. PostgreSQL needs WARDEN_BENCH_PG_URL (default the local test server); skipped
// without it. Knobs: WARDEN_BENCH_KPI_TASKS (100000), WARDEN_BENCH_KPI_RUNS (15).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { loadOrCreateTreeHeadKey } from '../src/provenance/index.js';
import { openSqliteStore, sqliteNodeKey, type Store } from '../src/store/index.js';
import { openPostgresStore } from '../src/store/postgres/index.js';

const TASKS = Number(process.env['WARDEN_BENCH_KPI_TASKS'] ?? 100_000);
const RUNS = Number(process.env['WARDEN_BENCH_KPI_RUNS'] ?? 15);
const PG_URL = process.env['WARDEN_BENCH_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const VERSIONS = Array.from({ length: 10 }, (_, i) => `agent${i}@1.0.0`);
const STATES = [
  'succeeded',
  'succeeded',
  'succeeded',
  'succeeded',
  'succeeded',
  'succeeded',
  'dead',
  'failed',
  'quarantined',
  'cancelled',
];

function emit(name: string, value: number, unit: string, extra: Record<string, unknown> = {}) {
  process.stdout.write(
    `${JSON.stringify({ name, value: Math.round(value * 1000) / 1000, unit, ...extra })}\n`,
  );
}

/** The synthetic history, one row per task: [id, session, agent, state, usage JSON or null, flagged]. */
function* history(): Generator<[string, string, string, string, string | null, boolean]> {
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let n = 0; n < TASKS; n++) {
    const agent = n % 10 === 0 ? VERSIONS[1 + ((n / 10) % 9)]! : VERSIONS[0]!;
    const state = STATES[n % STATES.length]!;
    const wallMs = Math.round(5 + rand() * 200);
    const usage =
      state === 'succeeded' || state === 'quarantined'
        ? JSON.stringify({
            wallMs,
            cpuMs: 1,
            peakMemoryBytes: 0,
            outputBytes: 10,
            ...(n % 5 === 0
              ? { llm: { provider: 'openai', model: 'm', costUsd: 0.0001 * (1 + (n % 7)) } }
              : {}),
          })
        : null;
    yield [
      `t${String(n).padStart(9, '0')}`,
      n % 4 === 0 ? 's-acme' : 's-default',
      agent,
      state,
      usage,
      n % 20 === 0,
    ];
  }
}

async function measure(backend: string, store: Store): Promise<void> {
  const cases: [string, Parameters<Store['agentKpis']>[0]][] = [
    ['all versions', {}],
    ['hot version', { agentKeys: [VERSIONS[0]!] }],
    ['cold version', { agentKeys: [VERSIONS[5]!] }],
    ['hot version for a tenant', { agentKeys: [VERSIONS[0]!], tenant: 'default' }],
  ];
  for (const [what, filter] of cases) {
    await store.agentKpis(filter); // warm
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      await store.agentKpis(filter);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    emit(`kpi ${backend} ${what} p50`, times[Math.floor(times.length / 2)]!, 'ms', { tasks: TASKS });
  }
}

async function sqlite(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-kpi-bench-'));
  try {
    const path = join(dir, 'warden.db');
    await (await openSqliteStore({ path }, sqliteNodeKey(path))).close();
    const db = new BetterSqlite3(path);
    const t0 = performance.now();
    db.transaction(() => {
      const session = db.prepare(
        "INSERT INTO sessions (id, tenant, name, max_concurrency, allow_network, policy, created_at) VALUES (?, ?, ?, 10, 0, 'default', 0)",
      );
      session.run('s-default', 'default', 'd');
      session.run('s-acme', 'acme', 'a');
      const agent = db.prepare(
        "INSERT INTO agents (key, name, version, runtime, concurrency, manifest, module_digest, created_at, tenant, shared) VALUES (?, ?, '1.0.0', 'inline', 1, '{}', NULL, 0, 'default', 1)",
      );
      for (const v of VERSIONS) agent.run(v, v.split('@')[0]);
      const task = db.prepare(
        "INSERT INTO tasks (id, session_id, agent_key, priority, state, attempts, max_attempts, run_after, input, metadata, created_at, updated_at) VALUES (?, ?, ?, 2, ?, 1, 3, 0, '{}', '{}', ?, ?)",
      );
      const result = db.prepare(
        'INSERT INTO results (task_id, status, output, error, attempts, usage, output_digest, finished_at) VALUES (?, ?, NULL, NULL, 1, ?, NULL, ?)',
      );
      const flag = db.prepare(
        "INSERT INTO trace_flags (id, session_id, task_id, agent_key, type, severity, reason, auto_detected, detector, stage, created_at) VALUES (?, ?, ?, ?, 'pii', 2, 'r', 1, NULL, 'input', 0)",
      );
      const feedback = db.prepare(
        'INSERT INTO task_feedback (task_id, agent_key, score, comment, created_at) VALUES (?, ?, ?, NULL, 0)',
      );
      let n = 0;
      for (const [id, s, a, state, usage, flagged] of history()) {
        task.run(id, s, a, state, n, n);
        if (state !== 'cancelled') result.run(id, state, usage, n);
        if (flagged) flag.run(`f${id}`, s, id, a);
        if (n % 100 === 0 && state !== 'cancelled') feedback.run(id, a, (n % 11) / 10);
        n++;
      }
    })();
    db.close();
    console.error(`sqlite: wrote ${TASKS} tasks in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const store = await openSqliteStore({ path }, sqliteNodeKey(path));
    try {
      await measure('sqlite', store);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function postgres(): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await admin.connect();
  } catch {
    console.error(`postgres: not reachable at ${PG_URL}, skipped`);
    return;
  }
  const name = `warden_bench_kpi_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  const dir = mkdtempSync(join(tmpdir(), 'warden-kpi-bench-'));
  try {
    const keyDir = join(dir, 'keys');
    const store = await openPostgresStore({ url: url.toString(), keyDir }, loadOrCreateTreeHeadKey(keyDir));
    const c = new pg.Client({ connectionString: url.toString() });
    await c.connect();
    try {
      const t0 = performance.now();
      await c.query(
        "INSERT INTO sessions (id, tenant, name, max_concurrency, allow_network, policy, created_at) VALUES ('s-default', 'default', 'd', 10, 0, 'default', 0), ('s-acme', 'acme', 'a', 10, 0, 'default', 0)",
      );
      for (const v of VERSIONS)
        await c.query(
          "INSERT INTO agents (key, name, version, runtime, concurrency, manifest, module_digest, created_at, tenant, shared) VALUES ($1, $2, '1.0.0', 'inline', 1, '{}', NULL, 0, 'default', 1)",
          [v, v.split('@')[0]],
        );
      const rows = [...history()];
      for (let start = 0; start < rows.length; start += 5000) {
        const page = rows.slice(start, start + 5000);
        const col = (i: number) => page.map((r) => r[i]);
        const at = page.map((_, k) => start + k);
        await c.query(
          `INSERT INTO tasks (id, session_id, agent_key, priority, state, attempts, max_attempts, run_after, input, metadata, created_at, updated_at)
           SELECT id, s, a, 2, st, 1, 3, 0, '{}', '{}', n, n FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) AS u(id, s, a, st, n)`,
          [col(0), col(1), col(2), col(3), at],
        );
        await c.query(
          `INSERT INTO results (task_id, status, output, error, attempts, usage, output_digest, finished_at)
           SELECT id, st, NULL, NULL, 1, us, NULL, n FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS u(id, st, us, n)
           WHERE st <> 'cancelled'`,
          [col(0), col(3), col(4), at],
        );
        const flagged = page.filter((r) => r[5]);
        await c.query(
          `INSERT INTO trace_flags (id, session_id, task_id, agent_key, type, severity, reason, auto_detected, detector, stage, created_at)
           SELECT 'f' || id, s, id, a, 'pii', 2, 'r', 1, NULL, 'input', 0 FROM unnest($1::text[], $2::text[], $3::text[]) AS u(id, s, a)`,
          [flagged.map((r) => r[0]), flagged.map((r) => r[1]), flagged.map((r) => r[2])],
        );
        const scored = page.filter((r, k) => (start + k) % 100 === 0 && r[3] !== 'cancelled');
        await c.query(
          `INSERT INTO task_feedback (task_id, agent_key, score, comment, created_at)
           SELECT id, a, 0.5, NULL, 0 FROM unnest($1::text[], $2::text[]) AS u(id, a)`,
          [scored.map((r) => r[0]), scored.map((r) => r[2])],
        );
      }
      await c.query('ANALYZE');
      console.error(`postgres: wrote ${TASKS} tasks in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } finally {
      await c.end();
    }
    try {
      await measure('postgres', store);
    } finally {
      await store.close();
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

await sqlite();
await postgres();
