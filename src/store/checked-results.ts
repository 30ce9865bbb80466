import { WardenError, type SerializedError, type TaskResult } from '../core/index.js';
import { resultRecordProblem, sha256Hex, type ProvenanceRecord } from '../provenance/index.js';
import { rowToResult } from './rows.js';
import type { Database } from './schema.js';

/**
 * A result row read together with the provenance record that commits to it (results.record_seq in the
 * task's session): two primary-key lookups more than the row alone.
 */
const SELECT = `SELECT r.*, t.session_id AS session_id, p.record AS record, p.hash AS record_hash
  FROM results r
  LEFT JOIN tasks t ON t.id = r.task_id
  LEFT JOIN provenance p ON p.session_id = t.session_id AND p.seq = r.record_seq`;
export const CHECKED_RESULT_SQL = {
  resultById: `${SELECT} WHERE r.task_id = ?`,
  resultsByIds: `${SELECT} WHERE r.task_id IN (SELECT value FROM json_each(?))`,
} as const;

export type CheckedResultRow = Database['results'] & {
  session_id: string | null;
  record: string | null;
  record_hash: string | null;
};

/** Why the row does not match its record, or undefined. */
function problemOf(r: CheckedResultRow): string | undefined {
  if (r.session_id === null) return 'its task row is missing';
  let record: ProvenanceRecord | undefined;
  if (r.record !== null) {
    if (sha256Hex(r.record) !== r.record_hash)
      return `its record (seq ${r.record_seq}) does not match the record's hash`;
    try {
      record = JSON.parse(r.record) as ProvenanceRecord;
    } catch {
      return `its record (seq ${r.record_seq}) is not valid JSON`;
    }
  }
  return resultRecordProblem(
    {
      taskId: r.task_id,
      status: r.status,
      outputJson: r.output,
      outputDigest: r.output_digest,
      errorJson: r.error,
      recordSeq: r.record_seq === null ? null : Number(r.record_seq),
    },
    record,
  );
}

function mismatch(r: CheckedResultRow, problem: string): WardenError {
  return new WardenError(
    'PROVENANCE_RESULT_MISMATCH',
    `The stored result of task ${r.task_id} does not match its provenance: ${problem}. The database was changed outside Warden, so the result is not served; run warden verify to see what else was.`,
    { details: { taskId: r.task_id, sessionId: r.session_id, recordSeq: r.record_seq } },
  );
}

/**
 * The result, once it is checked against the record that commits to it: a stored output whose bytes or
 * digest differ from what the chain recorded is never served (PROVENANCE_RESULT_MISMATCH).
 */
export function checkedResult(r: CheckedResultRow): TaskResult {
  const problem = problemOf(r);
  if (problem) throw mismatch(r, problem);
  return rowToResult(r);
}

/**
 * For batch reads, where one bad row must not fail the others: a row that does not match its record comes
 * back as a failed result carrying PROVENANCE_RESULT_MISMATCH, with no output (Warden.result throws it).
 */
export function checkedOrFailedResult(r: CheckedResultRow): TaskResult {
  const problem = problemOf(r);
  if (!problem) return rowToResult(r);
  const error: SerializedError = mismatch(r, problem).toJSON();
  const { taskId, attempts, usage, finishedAt } = rowToResult({ ...r, output: null, error: null });
  return { taskId, attempts, usage, finishedAt, status: 'failed', output: null, outputDigest: null, error };
}
