import type { HistoryRecord } from './task-types.js';

/** One attempt of a task: from its task.started record to the record of its outcome. */
export interface AttemptRow {
  kind: 'attempt';
  attempt: number;
  start: number;
  end: number | undefined;
  outcome: string;
  error: string | undefined;
  worker: string | undefined;
  node: string | undefined;
  retryAt: number | undefined;
}

/** Something that happened to the task outside an attempt: submitted, replayed, released, expired… */
export interface Milestone {
  kind: 'milestone';
  at: number;
  label: string;
  error: string | undefined;
}

export type Row = AttemptRow | Milestone;

const OUTCOME: Record<string, string> = {
  'task.attempt_failed': 'retrying',
  'task.succeeded': 'succeeded',
  'task.quarantined': 'quarantined',
  'task.failed': 'failed',
  'task.dead_lettered': 'dead',
  'task.cancelled': 'cancelled',
  'task.lease_expired': 'lease expired',
};

const MILESTONE: Record<string, string> = {
  'task.submitted': 'submitted',
  'task.replayed': 'replayed from the dead-letter queue',
  'task.released': 'released from quarantine',
  'task.purged': 'purged',
  'task.failed': 'failed',
  'task.cancelled': 'cancelled',
  'task.feedback': 'feedback',
  'governance.flagged': 'flagged by governance',
  'governance.blocked': 'blocked by governance',
  'trace.created': 'trace recorded',
};

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * The rows of the timeline, in chain order. An outcome joins the latest open attempt of its number (a
 * replayed task counts its attempts again, so numbers can repeat); a record outside any attempt is a
 * milestone.
 */
export function timelineRows(records: readonly HistoryRecord[]): Row[] {
  const rows: Row[] = [];
  const open = new Map<number, AttemptRow>();
  for (const r of records) {
    const error = str(r.data['error']);
    if (r.type === 'task.started' && r.attempt !== null) {
      const row: AttemptRow = {
        kind: 'attempt',
        attempt: r.attempt,
        start: r.at,
        end: undefined,
        outcome: 'running',
        error: undefined,
        worker: str(r.data['worker']),
        node: undefined,
        retryAt: undefined,
      };
      rows.push(row);
      open.set(r.attempt, row);
      continue;
    }
    const row = r.attempt !== null ? open.get(r.attempt) : undefined;
    if (row && r.type === 'task.receipt') {
      row.node = str(r.data['nodeId']);
      continue;
    }
    if (row && OUTCOME[r.type]) {
      row.end = r.at;
      row.outcome = OUTCOME[r.type]!;
      row.error = error ?? (r.type === 'task.lease_expired' ? 'LEASE_EXPIRED' : undefined);
      const retryAt = r.data['retryAt'];
      row.retryAt = typeof retryAt === 'number' ? retryAt : undefined;
      open.delete(r.attempt!);
      continue;
    }
    const label = MILESTONE[r.type];
    if (label) rows.push({ kind: 'milestone', at: r.at, label, error });
  }
  return rows;
}
