import type { Database as Sqlite, Statement } from 'better-sqlite3';
import { WardenError, type Task } from '../../core/index.js';
import { records } from '../../provenance/index.js';
import { rowToFlag, rowToTask } from '../rows.js';
import type { Database } from '../schema.js';
import type { AgentRunStat, FlagCount, FlagFilter, GovernanceRecord, TraceFlagRecord } from '../store.js';
import type { ChainWriter } from './chain-writer.js';

// Governance SQL of the embedded store: trace flags, their provenance records, and quarantine release.

type FlagRow = Database['trace_flags'];
type TaskRow = Parameters<typeof rowToTask>[0];

export class TraceFlagSql {
  private readonly insert: Statement;

  constructor(private readonly db: Sqlite) {
    this.insert = db.prepare(
      `INSERT INTO trace_flags (id, session_id, task_id, agent_key, type, severity, reason, auto_detected, detector, stage, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  /** Inserts flags and appends one 'governance.flagged' record for them, inside the caller's transaction. */
  write(chain: ChainWriter, flags: readonly TraceFlagRecord[]): void {
    const first = flags[0];
    if (!first) return;
    for (const f of flags) {
      this.insert.run(
        f.id,
        f.sessionId,
        f.taskId,
        f.agentKey,
        f.type,
        f.severity,
        f.reason,
        f.autoDetected ? 1 : 0,
        f.detector,
        f.stage,
        f.createdAt,
      );
    }
    chain.add(first.sessionId, records.governanceFlagged(flags)!);
  }

  record(chain: ChainWriter, r: GovernanceRecord): void {
    if (r.type !== 'governance.flagged') {
      chain.add(r.sessionId, records.governanceDecision({ ...r, type: r.type }));
    }
    if (r.flags.length) this.write(chain, r.flags);
  }

  list(filter: FlagFilter): TraceFlagRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.taskIds) {
      where.push('task_id IN (SELECT value FROM json_each(?))');
      args.push(JSON.stringify(filter.taskIds));
    }
    if (filter.sessionId) {
      where.push('session_id = ?');
      args.push(filter.sessionId);
    }
    const sql = `SELECT * FROM trace_flags ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id LIMIT ?`;
    args.push(Math.min(filter.limit ?? 10_000, 100_000));
    return (this.db.prepare(sql).all(...args) as FlagRow[]).map(rowToFlag);
  }

  counts(sessionId?: string): FlagCount[] {
    const rows = this.db
      .prepare(
        `SELECT type, severity, coalesce(agent_key, '-') AS agent_key, count(*) AS n FROM trace_flags
         ${sessionId ? 'WHERE session_id = ?' : ''} GROUP BY type, severity, agent_key`,
      )
      .all(...(sessionId ? [sessionId] : [])) as {
      type: string;
      severity: number;
      agent_key: string;
      n: number;
    }[];
    return rows.map((r) => ({
      type: r.type,
      severity: Number(r.severity),
      agentKey: r.agent_key,
      count: Number(r.n),
    }));
  }

  /** Moves a quarantined task on to succeeded (its output was kept) and records who released it. */
  release(chain: ChainWriter, taskId: string, now: number, data: Record<string, unknown>): Task {
    const row = this.db.prepare('SELECT * FROM tasks WHERE id = ?').get(taskId) as TaskRow | undefined;
    if (!row) throw new WardenError('TASK_NOT_FOUND', `No task with id ${taskId}`, { details: { taskId } });
    if (row.state !== 'quarantined')
      throw new WardenError('INVALID_STATE', `Task ${taskId} is ${row.state}, not quarantined`, {
        details: { taskId, state: row.state },
      });
    this.db
      .prepare(
        "UPDATE tasks SET state = 'succeeded', last_error = NULL, updated_at = ? WHERE id = ? AND state = 'quarantined'",
      )
      .run(now, taskId);
    const result = this.db
      .prepare(
        "UPDATE results SET status = 'succeeded', error = NULL WHERE task_id = ? RETURNING output_digest",
      )
      .get(taskId) as { output_digest: string | null } | undefined;
    chain.add(
      row.session_id,
      records.taskReleased(taskId, row.agent_key, now, data, result?.output_digest ?? null),
      // The release record now commits to the result row (status succeeded, the same output digest).
      (seq) => this.db.prepare('UPDATE results SET record_seq = ? WHERE task_id = ?').run(seq, taskId),
    );
    return rowToTask({ ...row, state: 'succeeded', last_error: null, updated_at: now });
  }

  /** The latest finished runs of an agent version, newest first (for anomaly baselines). */
  history(agentKey: string, limit: number): AgentRunStat[] {
    const rows = this.db
      .prepare(
        // Bounded: look at the agent's latest 4·limit tasks only, so a long queue of not-yet-run tasks
        // (no result to join) cannot turn this into a scan of the whole history.
        `SELECT r.status, r.usage, length(r.output) AS bytes, r.finished_at
         FROM (SELECT id FROM tasks INDEXED BY tasks_agent WHERE agent_key = ? ORDER BY id DESC LIMIT ?) t
         JOIN results r ON r.task_id = t.id ORDER BY t.id DESC LIMIT ?`,
      )
      .all(agentKey, limit * 4, limit) as {
      status: string;
      usage: string | null;
      bytes: number | null;
      finished_at: number;
    }[];
    return rows.map((r) => ({
      status: r.status,
      wallMs: r.usage ? ((JSON.parse(r.usage) as { wallMs?: number }).wallMs ?? null) : null,
      outputBytes: r.bytes === null ? 0 : Number(r.bytes),
      finishedAt: Number(r.finished_at),
    }));
  }
}
