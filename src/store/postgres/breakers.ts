import type { BreakerOutcomes, BreakerUpdate } from '../store.js';
import { breakerKeys, foldBreakerOutcomes, rowToBreaker } from '../breakers.js';
import type { CircuitBreakersTable } from '../schema.js';
import type { PgTx } from './tx.js';

// Breakers count runs finished by every process: the finish transaction locks each named version's row,
// applies its outcomes to what is stored and writes the result, instead of overwriting the row with what one
// process last read.

/**
 * Locks and reads the rows in one statement. A plain SELECT ... FOR UPDATE locks nothing for a version
 * without a row, and two first failures would then both start from closed; this upsert creates the missing
 * closed row or, for an existing one, takes its lock and returns its latest committed values (ON CONFLICT
 * DO UPDATE reads past the statement's snapshot). Keys arrive sorted: rows are locked in one order.
 */
const LOCK_SQL = `INSERT INTO circuit_breakers (agent_key, state, consecutive_failures, opened_at, updated_at)
  SELECT k, 'closed', 0, NULL, $2 FROM unnest($1::text[]) WITH ORDINALITY AS u(k, i) ORDER BY i
  ON CONFLICT (agent_key) DO UPDATE SET updated_at = circuit_breakers.updated_at
  RETURNING agent_key, state, consecutive_failures, opened_at`;

const WRITE_SQL = `UPDATE circuit_breakers AS b
  SET state = u.state, consecutive_failures = u.failures, opened_at = u.opened_at, updated_at = $5
  FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[]) AS u(agent_key, state, failures, opened_at)
  WHERE b.agent_key = u.agent_key`;

/** Applies `batch` inside `tx` and returns every named version's breaker as it will be committed. */
export async function applyBreakers(tx: PgTx, batch: readonly BreakerOutcomes[]): Promise<BreakerUpdate[]> {
  if (batch.length === 0) return [];
  const now = Date.now();
  const rows = await tx.named<
    Pick<CircuitBreakersTable, 'agent_key' | 'state' | 'consecutive_failures' | 'opened_at'>
  >('warden_breakers_lock', LOCK_SQL, [breakerKeys(batch), now]);
  const { after, changed } = foldBreakerOutcomes(
    new Map(rows.map((r) => [r.agent_key, rowToBreaker(r)])),
    batch,
  );
  if (changed.length > 0)
    await tx.named('warden_breakers_write', WRITE_SQL, [
      changed.map((u) => u.agentKey),
      changed.map((u) => u.snapshot.state),
      changed.map((u) => u.snapshot.consecutiveFailures),
      changed.map((u) => u.snapshot.openedAt),
      now,
    ]);
  return after;
}
