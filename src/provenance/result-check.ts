import { sha256Hex, type ProvenanceRecord } from './chain.js';

/** For each record type that commits to a task's result row: the status the row has. */
export const RESULT_RECORD_STATUS: Readonly<Record<string, string>> = {
  'task.succeeded': 'succeeded',
  'task.quarantined': 'quarantined',
  // A released quarantine: the same output, now succeeded.
  'task.released': 'succeeded',
  'task.failed': 'failed',
  'task.dead_lettered': 'dead',
  'task.cancelled': 'cancelled',
};

/** A task's result row as stored, with the seq of the record that commits to it. */
export interface StoredResultRow {
  taskId: string;
  status: string;
  outputJson: string | null;
  outputDigest: string | null;
  errorJson: string | null;
  recordSeq: number | null;
}

/**
 * Why a stored result row does not match the provenance record that commits to it, in words, or undefined
 * when it matches: the record is about this task, its type gives the row's status, and for an output the
 * row's digest is the record's and the stored bytes hash to it; for a failure, the error code is the
 * record's. Cheap (one hash of the output): it runs on every result read.
 */
export function resultRecordProblem(
  row: StoredResultRow,
  record: ProvenanceRecord | undefined,
): string | undefined {
  if (!record) return 'no provenance record commits to it';
  const at = `its record (seq ${record.seq})`;
  if (record.taskId !== row.taskId) return `${at} is about another task`;
  const status = RESULT_RECORD_STATUS[record.type];
  if (status !== row.status) return `its status is ${row.status}, but ${at} is ${record.type}`;
  const data = record.data ?? {};
  if ('outputDigest' in data) {
    if (row.outputDigest !== data['outputDigest'])
      return `its output digest differs from the one ${at} commits to`;
    if (row.outputJson === null || sha256Hex(row.outputJson) !== row.outputDigest)
      return 'its stored output does not hash to its output digest';
    return undefined;
  }
  if (row.outputJson !== null) return `it has an output, but ${at} commits to none`;
  let code: unknown;
  try {
    code = (JSON.parse(row.errorJson ?? 'null') as { code?: unknown } | null)?.code;
  } catch {
    return 'its error is not valid JSON';
  }
  if (code !== data['error']) return `its error code ${String(code)} differs from ${at}'s`;
  return undefined;
}
