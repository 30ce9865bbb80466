/**
 * The figures of one agent version over its finished tasks (`warden agents kpi`, `GET /agents/:name/kpi`);
 * docs/kpi.md says how each is counted.
 */
export interface AgentKpi {
  /** The version's key: name@version (tenant/name@version for a non-default tenant's version). */
  agent: string;
  name: string;
  version: string;
  /** Terminal tasks counted: succeeded + failed (failed or dead) + quarantined; cancelled ones are not. */
  finished: number;
  succeeded: number;
  /** Tasks that ended failed (deadline passed) or dead (attempts used up). */
  failed: number;
  quarantined: number;
  /** succeeded / finished; null when nothing finished. */
  successRate: number | null;
  /**
   * Run wall time of each finished task's last attempt (`usage.wallMs` of its result), interpolated
   * percentiles; tasks whose result has no usage (expired before running) are not in it. Null: no sample.
   */
  latencyMs: { p50: number | null; p95: number | null };
  /** Sum of the LLM cost (`usage.llm.costUsd`) of the finished tasks' last attempts; 0 when none priced. */
  costUsd: number;
  /** Finished tasks with at least one governance flag (input or output). */
  flaggedTasks: number;
  /** User-declared scores in [0, 1] (`warden feedback`): how many tasks have one, and their mean. */
  reward: { count: number; mean: number | null };
}

/** Which tasks KPIs count. */
export interface KpiFilter {
  /** These versions only (keys); every registered version when absent. */
  agentKeys?: readonly string[];
  /** Tasks submitted at or after this time (epoch ms). */
  since?: number;
  /** Tasks of this tenant's sessions only: a shared version's figures never include other tenants' tasks. */
  tenant?: string;
}

/** A user's score of a finished task; a later one for the same task replaces it. */
export interface TaskFeedback {
  taskId: string;
  /** The task's agent version (its key); must be the task's. */
  agentKey: string;
  /** In [0, 1]. */
  score: number;
  comment?: string;
  createdAt: number;
  /** Who recorded it (api, cli, library), for the provenance record. */
  via?: string;
}

/** KPIs per agent version and user feedback, as the Warden facade uses them. */
export interface KpiPort {
  /** One entry per registered version the filter names (zeros for one without finished tasks), by key. */
  agentKpis(filter: KpiFilter): Promise<AgentKpi[]>;
  /**
   * Stores (upserts) a task's feedback and appends a 'task.feedback' record to its session's chain in the
   * same transaction. TASK_NOT_FOUND when there is no such task, INVALID_STATE when it is not finished.
   */
  putFeedback(feedback: TaskFeedback): Promise<void>;
}
