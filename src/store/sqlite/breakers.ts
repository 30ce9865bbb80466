import type { Database as Sqlite, Statement } from 'better-sqlite3';
import type { BreakerSnapshot } from '../../core/index.js';
import { breakerKeys, foldBreakerOutcomes, rowToBreaker } from '../breakers.js';
import type { CircuitBreakersTable } from '../schema.js';
import type { BreakerOutcomes, BreakerUpdate } from '../store.js';

// Breakers of the embedded store: applied to the stored rows inside the finish transaction, which is
// BEGIN IMMEDIATE (the write lock of the file), so processes sharing one file count every run once.

export class BreakerSql {
  private readonly read: Statement;
  private readonly write: Statement;

  constructor(db: Sqlite) {
    this.read = db.prepare(
      'SELECT agent_key, state, consecutive_failures, opened_at FROM circuit_breakers WHERE agent_key = ?',
    );
    this.write = db.prepare(
      `INSERT INTO circuit_breakers (agent_key, state, consecutive_failures, opened_at, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (agent_key) DO UPDATE SET state = excluded.state, consecutive_failures = excluded.consecutive_failures,
         opened_at = excluded.opened_at, updated_at = excluded.updated_at`,
    );
  }

  /** Applies `batch` inside the caller's transaction; returns every named version's breaker after it. */
  apply(batch: readonly BreakerOutcomes[]): BreakerUpdate[] {
    if (batch.length === 0) return [];
    const stored = new Map<string, BreakerSnapshot>();
    for (const key of breakerKeys(batch)) {
      const row = this.read.get(key) as CircuitBreakersTable | undefined;
      if (row) stored.set(key, rowToBreaker(row));
    }
    const { after, changed } = foldBreakerOutcomes(stored, batch);
    const now = Date.now();
    for (const u of changed)
      this.write.run(u.agentKey, u.snapshot.state, u.snapshot.consecutiveFailures, u.snapshot.openedAt, now);
    return after;
  }
}
