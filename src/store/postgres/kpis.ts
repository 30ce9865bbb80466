import type pg from 'pg';
import { records } from '../../provenance/index.js';
import { KPI_STATES_SQL, P50, P95, assembleKpis, checkFeedbackTask } from '../kpi-rows.js';
import type { AgentKpi, KpiFilter, TaskFeedback } from '../store.js';
import type { PgTx } from './tx.js';

// KPIs of the PostgreSQL store (docs/kpi.md): one grouped read over the finished tasks of the versions asked
// for, percentiles by percentile_cont (interpolated; the SQLite store computes the same figure), and one for
// the rewards. The caller runs them in one transaction with JIT off (PgStore.agentKpis).

/** One statement outside a transaction (PgStore.q). */
export type PgQuery = <R extends pg.QueryResultRow>(
  what: string,
  text: string,
  values?: unknown[],
) => Promise<R[]>;

/** $1 keys (or null: all), $2 since (or null), $3 tenant (or null), on `tasks t`. */
const TASK_CONDITIONS = `($1::text[] IS NULL OR t.agent_key = ANY($1::text[]))
  AND ($2::bigint IS NULL OR t.created_at >= $2::bigint)
  AND ($3::text IS NULL OR t.session_id IN (SELECT id FROM sessions WHERE tenant = $3::text))`;

export async function agentKpis(q: PgQuery, filter: KpiFilter): Promise<AgentKpi[]> {
  if (filter.agentKeys?.length === 0) return [];
  const keys = filter.agentKeys ? [...filter.agentKeys] : null;
  const agents = await q<{ key: string; name: string; version: string }>(
    'agentKpis',
    'SELECT key, name, version FROM agents WHERE $1::text[] IS NULL OR key = ANY($1::text[]) ORDER BY name, created_at',
    [keys],
  );
  if (agents.length === 0) return [];
  const values = [keys, filter.since ?? null, filter.tenant ?? null];
  // Per row only scalars go on to the grouping (usage is JSON text: read once for wall time and cost);
  // flagged tasks come from one hashed set of flagged task ids rather than a probe per row.
  const counts = await q<{
    k: string;
    finished: string;
    succeeded: string;
    failed: string;
    quarantined: string;
    cost: number;
    flagged: string;
    p: (number | null)[] | null;
  }>(
    'agentKpis',
    `SELECT k, count(*) AS finished,
       count(*) FILTER (WHERE s = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE s IN ('failed', 'dead')) AS failed,
       count(*) FILTER (WHERE s = 'quarantined') AS quarantined,
       coalesce(sum(c), 0) AS cost,
       count(*) FILTER (WHERE fl) AS flagged,
       percentile_cont(ARRAY[${P50}, ${P95}]::double precision[]) WITHIN GROUP (ORDER BY w) AS p
     FROM (
       SELECT t.agent_key AS k, t.state AS s, (u.j ->> 'wallMs')::double precision AS w,
         (u.j #>> '{llm,costUsd}')::double precision AS c, f.task_id IS NOT NULL AS fl
       FROM tasks t
       LEFT JOIN results r ON r.task_id = t.id
       LEFT JOIN LATERAL (SELECT r.usage::json AS j) u ON true
       LEFT JOIN (SELECT DISTINCT task_id FROM trace_flags WHERE task_id IS NOT NULL) f ON f.task_id = t.id
       WHERE t.state IN (${KPI_STATES_SQL}) AND ${TASK_CONDITIONS}
     ) x
     GROUP BY k`,
    values,
  );
  const rewards = await q<{ k: string; n: string; mean: number | null }>(
    'agentKpis',
    `SELECT fb.agent_key AS k, count(*) AS n, avg(fb.score) AS mean
     FROM task_feedback fb JOIN tasks t ON t.id = fb.task_id
     WHERE ${TASK_CONDITIONS} GROUP BY fb.agent_key`,
    values,
  );
  const num = (v: number | string | null | undefined) => (v === null || v === undefined ? null : Number(v));
  return assembleKpis(agents, {
    counts: new Map(
      counts.map((r) => [
        r.k,
        {
          finished: Number(r.finished),
          succeeded: Number(r.succeeded),
          failed: Number(r.failed),
          quarantined: Number(r.quarantined),
          costUsd: Number(r.cost),
          flaggedTasks: Number(r.flagged),
        },
      ]),
    ),
    latency: new Map(counts.map((r) => [r.k, { p50: num(r.p?.[0]), p95: num(r.p?.[1]) }])),
    reward: new Map(rewards.map((r) => [r.k, { count: Number(r.n), mean: num(r.mean) }])),
  });
}

/** Upserts a task's feedback and appends its provenance record, inside `tx`. */
export async function putFeedback(tx: PgTx, f: TaskFeedback): Promise<void> {
  // Locked: a replay cannot put the task back in the queue between the check and the write.
  const [row] = await tx.q<{ session_id: string; agent_key: string; state: string }>(
    'SELECT session_id, agent_key, state FROM tasks WHERE id = $1 FOR UPDATE',
    [f.taskId],
  );
  checkFeedbackTask(f, row);
  await tx.q(
    `INSERT INTO task_feedback (task_id, agent_key, score, comment, created_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (task_id) DO UPDATE SET agent_key = excluded.agent_key, score = excluded.score,
       comment = excluded.comment, created_at = excluded.created_at`,
    [f.taskId, f.agentKey, f.score, f.comment ?? null, f.createdAt],
  );
  tx.chain.add(row!.session_id, records.taskFeedback(f));
}
