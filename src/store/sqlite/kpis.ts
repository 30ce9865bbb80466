import type { Database as Sqlite } from 'better-sqlite3';
import { records } from '../../provenance/index.js';
import {
  KPI_STATES_SQL,
  P50,
  P95,
  assembleKpis,
  checkFeedbackTask,
  percentileCont,
  type KpiCounts,
} from '../kpi-rows.js';
import type { AgentKpi, KpiFilter, TaskFeedback } from '../store.js';
import type { ChainWriter } from './chain-writer.js';

// KPIs of the embedded store (docs/kpi.md): one grouped read over the finished tasks of the versions asked
// for (counts, cost, flags, latency percentiles), walking tasks by the tasks_agent index, and one for the
// rewards.

const withPercentiles = new WeakSet<Sqlite>();

/**
 * Registers (once per connection) the aggregate `warden_wall_percentiles(v)`: the p50 and p95 of its non-null
 * arguments, as JSON [p50, p95], interpolated as PostgreSQL's percentile_cont. SQLite has no percentile
 * aggregate; this keeps the whole read to one pass over the rows instead of a second, sorted one.
 */
export function ensureWallPercentiles(db: Sqlite): void {
  if (withPercentiles.has(db)) return;
  db.aggregate('warden_wall_percentiles', {
    start: () => [] as number[],
    step: (values: number[], v: unknown) => {
      if (typeof v === 'number') values.push(v);
      return values;
    },
    result: (values: number[]) => {
      const sorted = Float64Array.from(values).sort();
      const at = (i: number) => sorted[i];
      return JSON.stringify([percentileCont(sorted.length, P50, at), percentileCont(sorted.length, P95, at)]);
    },
  });
  withPercentiles.add(db);
}

/** The WHERE conditions on `tasks t` for a filter, and their named parameters. */
function taskConditions(filter: KpiFilter): { where: string; params: Record<string, unknown> } {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  if (filter.agentKeys) {
    where.push('t.agent_key IN (SELECT value FROM json_each(@keys))');
    params['keys'] = JSON.stringify(filter.agentKeys);
  }
  if (filter.since !== undefined) {
    where.push('t.created_at >= @since');
    params['since'] = filter.since;
  }
  if (filter.tenant !== undefined) {
    where.push('t.session_id IN (SELECT id FROM sessions WHERE tenant = @tenant)');
    params['tenant'] = filter.tenant;
  }
  return { where: where.map((w) => ` AND ${w}`).join(''), params };
}

export function agentKpis(db: Sqlite, filter: KpiFilter): AgentKpi[] {
  if (filter.agentKeys?.length === 0) return [];
  const agents = (
    filter.agentKeys
      ? db
          .prepare(
            'SELECT key, name, version FROM agents WHERE key IN (SELECT value FROM json_each(?)) ORDER BY name, created_at',
          )
          .all(JSON.stringify(filter.agentKeys))
      : db.prepare('SELECT key, name, version FROM agents ORDER BY name, created_at').all()
  ) as { key: string; name: string; version: string }[];
  if (agents.length === 0) return [];
  const { where, params } = taskConditions(filter);
  const finished = `t.state IN (${KPI_STATES_SQL})${where}`;

  ensureWallPercentiles(db);
  const counts = new Map<string, KpiCounts>();
  const latency = new Map<string, { p50: number | null; p95: number | null }>();
  // One pass over the rows: counts, cost, flags, and the wall times collected by warden_wall_percentiles.
  const rows = db
    .prepare(
      `SELECT t.agent_key AS k, count(*) AS finished,
         sum(t.state = 'succeeded') AS succeeded,
         sum(t.state IN ('failed', 'dead')) AS failed,
         sum(t.state = 'quarantined') AS quarantined,
         total(json_extract(r.usage, '$.llm.costUsd')) AS cost,
         sum(EXISTS (SELECT 1 FROM trace_flags f WHERE f.task_id = t.id)) AS flagged,
         warden_wall_percentiles(json_extract(r.usage, '$.wallMs')) AS p
       FROM tasks t LEFT JOIN results r ON r.task_id = t.id
       WHERE ${finished} GROUP BY t.agent_key`,
    )
    .all(params) as {
    k: string;
    finished: number;
    succeeded: number;
    failed: number;
    quarantined: number;
    cost: number;
    flagged: number;
    p: string;
  }[];
  for (const r of rows) {
    counts.set(r.k, {
      finished: Number(r.finished),
      succeeded: Number(r.succeeded),
      failed: Number(r.failed),
      quarantined: Number(r.quarantined),
      costUsd: Number(r.cost),
      flaggedTasks: Number(r.flagged),
    });
    const [p50, p95] = JSON.parse(r.p) as [number | null, number | null];
    latency.set(r.k, { p50, p95 });
  }

  const rewardRows = db
    .prepare(
      `SELECT fb.agent_key AS k, count(*) AS n, avg(fb.score) AS mean
       FROM task_feedback fb JOIN tasks t ON t.id = fb.task_id
       WHERE 1 = 1${where} GROUP BY fb.agent_key`,
    )
    .all(params) as { k: string; n: number; mean: number | null }[];
  const reward = new Map(
    rewardRows.map((r) => [r.k, { count: Number(r.n), mean: r.mean === null ? null : Number(r.mean) }]),
  );
  return assembleKpis(agents, { counts, latency, reward });
}

/** Upserts a task's feedback and appends its provenance record, inside the caller's transaction. */
export function putFeedback(db: Sqlite, chain: ChainWriter, f: TaskFeedback): void {
  const row = db.prepare('SELECT session_id, agent_key, state FROM tasks WHERE id = ?').get(f.taskId) as
    { session_id: string; agent_key: string; state: string } | undefined;
  checkFeedbackTask(f, row);
  db.prepare(
    `INSERT INTO task_feedback (task_id, agent_key, score, comment, created_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (task_id) DO UPDATE SET agent_key = excluded.agent_key, score = excluded.score,
       comment = excluded.comment, created_at = excluded.created_at`,
  ).run(f.taskId, f.agentKey, f.score, f.comment ?? null, f.createdAt);
  chain.add(row!.session_id, records.taskFeedback(f));
}
