import type { Database as Sqlite } from 'better-sqlite3';
import type { ActivityQuery, TenantActivity } from '../store.js';
import {
  FINISHED_STATES_SQL,
  LATENCY_STATES_SQL,
  assembleBuckets,
  assembleFlags,
  assembleQueue,
  idBounds,
  type FinishedRow,
  type SubmittedRow,
} from '../overview-rows.js';
import { ensureWallPercentiles } from './kpis.js';

// The tenant overview of the embedded store (GET /stats/overview). Each read walks an index over the
// tenant's sessions only: tasks by tasks_session (session_id, id) within an id range, which UUIDv7 ids make a
// time range, so its cost follows the tasks of the window, not the history; the queue by the partial
// indexes of queued and running tasks; flags by trace_flags_session (session_id, created_at).

// better-sqlite3 binds JS numbers as REAL: the bucket index is cast back to an integer.
const TENANT_SESSIONS = 'SELECT id FROM sessions WHERE tenant = @tenant';

export function tenantActivity(db: Sqlite, q: ActivityQuery): TenantActivity {
  ensureWallPercentiles(db);
  const { submittedLo, finishedLo, hi } = idBounds(q);
  const window = { tenant: q.tenant, from: q.from, to: q.to, bucket: q.bucketMs, hi };
  const submitted = db
    .prepare(
      `SELECT CAST((t.created_at - @from) / @bucket AS INTEGER) AS b, count(*) AS n
       FROM tasks t INDEXED BY tasks_session
       WHERE t.session_id IN (${TENANT_SESSIONS}) AND t.id >= @lo AND t.id < @hi
         AND t.created_at >= @from AND t.created_at < @to
       GROUP BY b`,
    )
    .all({ ...window, lo: submittedLo }) as SubmittedRow[];
  const finishedRows = `FROM tasks t INDEXED BY tasks_session JOIN results r ON r.task_id = t.id
    WHERE t.session_id IN (${TENANT_SESSIONS}) AND t.id >= @lo AND t.id < @hi
      AND r.task_id >= @lo AND r.task_id < @hi AND t.state IN (${FINISHED_STATES_SQL})
      AND r.finished_at >= @from AND r.finished_at < @to`;
  const latency = `warden_wall_percentiles(
    CASE WHEN t.state IN (${LATENCY_STATES_SQL}) THEN r.finished_at - t.created_at END) AS p`;
  const percentiles = (p: string) => JSON.parse(p) as [number | null, number | null];
  const finished = (
    db
      .prepare(
        `SELECT CAST((r.finished_at - @from) / @bucket AS INTEGER) AS b,
           sum(t.state = 'succeeded') AS succeeded, sum(t.state = 'failed') AS failed,
           sum(t.state = 'dead') AS dead, sum(t.state = 'cancelled') AS cancelled,
           sum(t.state = 'quarantined') AS quarantined, ${latency}
         ${finishedRows} GROUP BY b`,
      )
      .all({ ...window, lo: finishedLo }) as (Omit<FinishedRow, 'p50' | 'p95'> & { p: string })[]
  ).map(({ p, ...r }) => {
    const [p50, p95] = percentiles(p);
    return { ...r, p50, p95 };
  });
  // The window's percentiles are not a function of the buckets': a second pass (SQLite has no GROUPING SETS).
  const [p50, p95] = percentiles(
    (db.prepare(`SELECT ${latency} ${finishedRows}`).get({ ...window, lo: finishedLo }) as { p: string }).p,
  );

  const queue = db
    .prepare(
      `SELECT 'queued' AS state, priority, count(*) AS n FROM tasks INDEXED BY tasks_claim
       WHERE state = 'queued' AND session_id IN (${TENANT_SESSIONS}) GROUP BY priority
       UNION ALL
       SELECT 'running', 0, count(*) FROM tasks INDEXED BY tasks_running
       WHERE state = 'running' AND session_id IN (${TENANT_SESSIONS})`,
    )
    .all({ tenant: q.tenant }) as { state: string; priority: number; n: number }[];

  const flags = db
    .prepare(
      `SELECT severity, type, count(*) AS n FROM trace_flags
       WHERE session_id IN (${TENANT_SESSIONS}) AND created_at >= @since GROUP BY severity, type`,
    )
    .all({ tenant: q.tenant, since: q.flagsSince }) as { severity: number; type: string; n: number }[];

  return {
    buckets: assembleBuckets(q, submitted, finished),
    latencyMs: { p50, p95 },
    queue: assembleQueue(queue),
    flags: assembleFlags(flags),
  };
}
