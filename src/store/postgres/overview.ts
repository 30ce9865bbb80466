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
import { P50, P95 } from '../kpi-rows.js';
import type { PgQuery } from './kpis.js';

// The tenant overview of the PostgreSQL store (GET /stats/overview); the caller runs the reads in one
// transaction (one snapshot) with JIT off. Tasks are read by tasks_session (session_id, id) within an id
// range that UUIDv7 ids make a time range, so the cost follows the tenant's tasks of the window; the queue
// from the partial indexes of queued and running tasks; flags by trace_flags_session. The id range is
// spelled out on results too: the planner does not carry it over the join, and read the whole table.

/** $1 tenant, $2 from, $3 to, $4 bucket ms, $5 lowest id, $6 id bound (exclusive), on `tasks t`. */
const WINDOW = `t.session_id IN (SELECT id FROM sessions WHERE tenant = $1::text)
  AND t.id >= $5::text AND t.id < $6::text`;

export async function tenantActivity(q: PgQuery, query: ActivityQuery): Promise<TenantActivity> {
  const { submittedLo, finishedLo, hi } = idBounds(query);
  const base = [query.tenant, query.from, query.to, query.bucketMs];
  const submitted = await q<SubmittedRow & pgRow>(
    'tenantActivity',
    `SELECT (t.created_at - $2::bigint) / $4::bigint AS b, count(*) AS n FROM tasks t
     WHERE ${WINDOW} AND t.created_at >= $2::bigint AND t.created_at < $3::bigint
     GROUP BY b`,
    [...base, submittedLo, hi],
  );
  const finished = await q<
    Omit<FinishedRow, 'p50' | 'p95' | 'b'> & { b: string | null; p: (number | null)[] | null } & pgRow
  >(
    'tenantActivity',
    `SELECT b, count(*) FILTER (WHERE s = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE s = 'failed') AS failed, count(*) FILTER (WHERE s = 'dead') AS dead,
       count(*) FILTER (WHERE s = 'cancelled') AS cancelled,
       count(*) FILTER (WHERE s = 'quarantined') AS quarantined,
       percentile_cont(ARRAY[${P50}, ${P95}]::double precision[]) WITHIN GROUP (ORDER BY l) AS p
     FROM (
       SELECT (r.finished_at - $2::bigint) / $4::bigint AS b, t.state AS s,
         CASE WHEN t.state IN (${LATENCY_STATES_SQL}) THEN (r.finished_at - t.created_at)::double precision END AS l
       FROM tasks t JOIN results r ON r.task_id = t.id
       WHERE ${WINDOW} AND r.task_id >= $5::text AND r.task_id < $6::text
         AND t.state IN (${FINISHED_STATES_SQL})
         AND r.finished_at >= $2::bigint AND r.finished_at < $3::bigint
     ) x
     GROUP BY GROUPING SETS ((b), ())`,
    [...base, finishedLo, hi],
  );
  // One state per branch, so each matches its partial index (queued: tasks_queued_agent; tasks_running).
  const queue = await q<{ state: string; priority: number; n: string }>(
    'tenantActivity',
    `SELECT 'queued' AS state, priority, count(*) AS n FROM tasks
     WHERE state = 'queued' AND session_id IN (SELECT id FROM sessions WHERE tenant = $1::text)
     GROUP BY priority
     UNION ALL
     SELECT 'running', 0, count(*) FROM tasks
     WHERE state = 'running' AND session_id IN (SELECT id FROM sessions WHERE tenant = $1::text)`,
    [query.tenant],
  );
  const flags = await q<{ severity: number; type: string; n: string }>(
    'tenantActivity',
    `SELECT severity, type, count(*) AS n FROM trace_flags
     WHERE session_id IN (SELECT id FROM sessions WHERE tenant = $1::text) AND created_at >= $2::bigint
     GROUP BY severity, type`,
    [query.tenant, query.flagsSince],
  );
  // The () grouping set is the whole window (b null): its percentiles are not a function of the buckets'.
  const rows = finished.map(({ p, ...r }) => ({ ...r, p50: p?.[0] ?? null, p95: p?.[1] ?? null }));
  const whole = rows.find((r) => r.b === null);
  return {
    buckets: assembleBuckets(
      query,
      submitted,
      rows.flatMap(({ b, ...r }) => (b === null ? [] : [{ ...r, b }])),
    ),
    latencyMs: { p50: whole?.p50 ?? null, p95: whole?.p95 ?? null },
    queue: assembleQueue(queue),
    flags: assembleFlags(flags),
  };
}

/** pg's row constraint (an index signature) for the shared row shapes. */
type pgRow = Record<string, unknown>;
