import type { Database, Statement } from 'better-sqlite3';
import { CHECKED_RESULT_SQL } from '../checked-results.js';

/** Links written by one insertLinks statement (a batch's chain links go in groups of this many). */
export const LINKS_PER_INSERT = 16;

// Hot-path SQL of the embedded store, prepared once per connection.
const SQL = {
  getHead: 'SELECT seq, hash FROM provenance_heads WHERE session_id = ?',
  insertLink: 'INSERT INTO provenance (session_id, seq, prev_hash, hash, record) VALUES (?, ?, ?, ?, ?)',
  insertLinks: `INSERT INTO provenance (session_id, seq, prev_hash, hash, record) VALUES ${Array.from(
    { length: LINKS_PER_INSERT },
    () => '(?, ?, ?, ?, ?)',
  ).join(', ')}`,
  putHead:
    'INSERT INTO provenance_heads (session_id, seq, hash) VALUES (?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash',
  insertTask: `INSERT INTO tasks (id, session_id, agent_key, priority, state, attempts, max_attempts, run_after,
      idempotency_key, input, deadline, timeout_ms, metadata, created_at, updated_at)
    VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  taskByIdempotency: 'SELECT * FROM tasks WHERE session_id = ? AND idempotency_key = ?',
  taskById: 'SELECT * FROM tasks WHERE id = ?',
  ...CHECKED_RESULT_SQL,
  runningCounts:
    "SELECT session_id, agent_key, count(*) AS n FROM tasks WHERE state = 'running' GROUP BY session_id, agent_key",
  candidates: `SELECT id, session_id, agent_key, priority, attempts, max_attempts, input, deadline, timeout_ms,
      metadata, updated_at
    FROM tasks INDEXED BY tasks_claim
    WHERE state = 'queued' AND run_after <= ?
      AND agent_key IN (SELECT value FROM json_each(?))
      AND agent_key NOT IN (SELECT value FROM json_each(?))
      AND session_id NOT IN (SELECT value FROM json_each(?))
    ORDER BY priority, id LIMIT ?`,
  // The same read when nothing is held and no session is full (the common case): without the two
  // exclusion lists, which cost ~15 µs per claim even empty (SQLite builds a list and a Bloom filter for each).
  candidatesOpen: `SELECT id, session_id, agent_key, priority, attempts, max_attempts, input, deadline, timeout_ms,
      metadata, updated_at
    FROM tasks INDEXED BY tasks_claim
    WHERE state = 'queued' AND run_after <= ?
      AND agent_key IN (SELECT value FROM json_each(?))
    ORDER BY priority, id LIMIT ?`,
  nextRunAfter:
    "SELECT min(run_after) AS t FROM tasks INDEXED BY tasks_claim WHERE state = 'queued' AND run_after > ?",
  claimOne: `UPDATE tasks SET state = 'running', attempts = attempts + 1, lease_owner = ?, lease_until = ?, updated_at = ?
    WHERE id = ? AND state = 'queued'`,
  finishTerminal: `UPDATE tasks SET state = ?, last_error = coalesce(?, last_error), lease_owner = NULL, lease_until = NULL, updated_at = ?
    WHERE id = ? AND state = 'running' AND lease_owner = ? AND attempts = ?`,
  finishRetry: `UPDATE tasks SET state = 'queued', run_after = ?, last_error = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?
    WHERE id = ? AND state = 'running' AND lease_owner = ? AND attempts = ?`,
  expireQueued: `UPDATE tasks SET state = 'failed', last_error = ?, updated_at = ? WHERE id = ? AND state = 'queued'`,
  insertResult: `INSERT INTO results (task_id, status, output, error, attempts, usage, output_digest, finished_at, record_seq)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  insertDeadLetter:
    'INSERT INTO dead_letters (task_id, session_id, agent_key, error, attempts, dead_at) VALUES (?, ?, ?, ?, ?, ?)',
  renewLease: "UPDATE tasks SET lease_until = ? WHERE id = ? AND state = 'running' AND lease_owner = ?",
  expiredLeases:
    "SELECT * FROM tasks WHERE state = 'running' AND lease_until < ? ORDER BY lease_until LIMIT 500",
  requeueExpired: `UPDATE tasks SET state = 'queued', run_after = ?, last_error = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?
    WHERE id = ? AND state = 'running' AND lease_until < ?`,
  terminateExpired: `UPDATE tasks SET state = ?, last_error = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?
    WHERE id = ? AND state = 'running' AND lease_until < ?`,
  cancelQueued: "UPDATE tasks SET state = 'cancelled', updated_at = ? WHERE id = ? AND state = 'queued'",
  requestCancel: "UPDATE tasks SET cancel_requested = 1, updated_at = ? WHERE id = ? AND state = 'running'",
  insertLog:
    'INSERT OR IGNORE INTO task_logs (task_id, attempt, line, stream, message, at) VALUES (?, ?, ?, ?, ?, ?)',
  queuedByPriority:
    "SELECT priority, count(*) AS n FROM tasks INDEXED BY tasks_claim WHERE state = 'queued' GROUP BY priority",
  countQueued: "SELECT count(*) AS n FROM tasks INDEXED BY tasks_claim WHERE state = 'queued'",
  countRunning: "SELECT count(*) AS n FROM tasks INDEXED BY tasks_running WHERE state = 'running'",
  inFlightByAgent: `SELECT agent_key, count(*) AS n FROM (
      SELECT agent_key FROM tasks INDEXED BY tasks_claim WHERE state = 'queued'
      UNION ALL SELECT agent_key FROM tasks INDEXED BY tasks_running WHERE state = 'running'
    ) GROUP BY agent_key`,
  inFlightByAgentOfTenant: `SELECT q.agent_key, count(*) AS n FROM (
      SELECT session_id, agent_key FROM tasks INDEXED BY tasks_claim WHERE state = 'queued'
      UNION ALL SELECT session_id, agent_key FROM tasks INDEXED BY tasks_running WHERE state = 'running'
    ) q JOIN sessions s ON s.id = q.session_id WHERE s.tenant = ? GROUP BY q.agent_key`,
  sessionCap: 'SELECT max_concurrency AS n FROM sessions WHERE id = ?',
  agentCap: 'SELECT concurrency AS n FROM agents WHERE key = ?',
  agentDigest: 'SELECT module_digest FROM agents WHERE key = ?',
} as const;

export type Statements = { [K in keyof typeof SQL]: Statement };

export function prepareStatements(db: Database): Statements {
  const out = {} as Record<string, Statement>;
  for (const [name, sql] of Object.entries(SQL)) out[name] = db.prepare(sql);
  // Read as arrays (see CandidateTuple in sqlite-store.ts): up to a batch of rows per claim.
  out['candidates']!.raw(true);
  out['candidatesOpen']!.raw(true);
  return out as Statements;
}
