import { WardenError, isTerminal, type TaskState } from '../core/index.js';
import type { AgentKpi, TaskFeedback } from './store.js';

// What both backends share for KPIs (docs/kpi.md): which states count, how the per-version aggregates
// become AgentKpi, and the checks a feedback write makes on its task inside the transaction.

/** The terminal states KPIs count; cancelled is left out (the task said nothing about the agent). */
export const KPI_STATES = ['succeeded', 'failed', 'dead', 'quarantined'] as const;

/** The SQL list of KPI_STATES, for an IN (...) in either dialect. */
export const KPI_STATES_SQL = KPI_STATES.map((s) => `'${s}'`).join(', ');

/** The percentiles reported, as fractions. */
export const P50 = 0.5;
export const P95 = 0.95;

export interface KpiCounts {
  finished: number;
  succeeded: number;
  failed: number;
  quarantined: number;
  costUsd: number;
  flaggedTasks: number;
}

export interface KpiParts {
  counts: ReadonlyMap<string, KpiCounts>;
  latency: ReadonlyMap<string, { p50: number | null; p95: number | null }>;
  reward: ReadonlyMap<string, { count: number; mean: number | null }>;
}

/** One AgentKpi per version, in the order given; a version the parts do not name gets zeros. */
export function assembleKpis(
  agents: readonly { key: string; name: string; version: string }[],
  parts: KpiParts,
): AgentKpi[] {
  return agents.map(({ key, name, version }) => {
    const c = parts.counts.get(key);
    const finished = c?.finished ?? 0;
    const succeeded = c?.succeeded ?? 0;
    return {
      agent: key,
      name,
      version,
      finished,
      succeeded,
      failed: c?.failed ?? 0,
      quarantined: c?.quarantined ?? 0,
      successRate: finished === 0 ? null : succeeded / finished,
      latencyMs: parts.latency.get(key) ?? { p50: null, p95: null },
      costUsd: c?.costUsd ?? 0,
      flaggedTasks: c?.flaggedTasks ?? 0,
      reward: parts.reward.get(key) ?? { count: 0, mean: null },
    };
  });
}

/**
 * The p-th percentile of n sorted values, interpolated between the two nearest ranks as PostgreSQL's
 * percentile_cont does, so both backends report the same figure. `at(i)` is the i-th smallest value.
 */
export function percentileCont(n: number, p: number, at: (i: number) => number | undefined): number | null {
  if (n === 0) return null;
  const pos = (n - 1) * p;
  const lo = Math.floor(pos);
  const low = at(lo);
  if (low === undefined) return null;
  if (pos === lo) return low;
  const high = at(lo + 1) ?? low;
  return low + (high - low) * (pos - lo);
}

/** The checks a feedback write makes on its task row, inside the transaction that writes it. */
export function checkFeedbackTask(
  f: TaskFeedback,
  row: { state: string; agent_key: string } | undefined,
): void {
  if (!row)
    throw new WardenError('TASK_NOT_FOUND', `No task with id ${f.taskId}`, { details: { taskId: f.taskId } });
  if (!isTerminal(row.state as TaskState))
    throw new WardenError(
      'INVALID_STATE',
      `Task ${f.taskId} is ${row.state}: feedback is for finished tasks; wait for its result`,
      { details: { taskId: f.taskId, state: row.state } },
    );
  if (row.agent_key !== f.agentKey)
    throw new WardenError('INVALID_INPUT', `Task ${f.taskId} ran ${row.agent_key}, not ${f.agentKey}`, {
      details: { taskId: f.taskId, agent: row.agent_key },
    });
}
