import { applyBreakerOutcomes, CLOSED_BREAKER, sameBreaker, type BreakerSnapshot } from '../core/index.js';
import type { CircuitBreakersTable } from './schema.js';
import type { BreakerOutcomes, BreakerUpdate } from './store.js';

// Breaker rules every SQL adapter shares: the adapter locks the stored rows, this computes what they
// become, and the adapter writes back only the ones that changed.

/** A circuit_breakers row as a snapshot (PostgreSQL returns bigint columns as strings). */
export function rowToBreaker(
  r: Pick<CircuitBreakersTable, 'state' | 'consecutive_failures' | 'opened_at'>,
): BreakerSnapshot {
  return {
    state: r.state as BreakerSnapshot['state'],
    consecutiveFailures: Number(r.consecutive_failures),
    openedAt: r.opened_at === null ? null : Number(r.opened_at),
  };
}

/** The agent keys a batch names, sorted: writers lock breaker rows in one order and never deadlock. */
export function breakerKeys(batch: readonly BreakerOutcomes[]): string[] {
  return [...new Set(batch.map((b) => b.agentKey))].sort();
}

/**
 * Applies each version's outcomes to its stored breaker (`stored`: the rows locked by the caller; a
 * missing row is a closed breaker). Returns every named version's breaker after the batch, and the ones to
 * write: those that differ from their row or have none (so every backend ends with a row for each version
 * it was sent, as PostgreSQL's locking upsert makes one).
 */
export function foldBreakerOutcomes(
  stored: ReadonlyMap<string, BreakerSnapshot>,
  batch: readonly BreakerOutcomes[],
): { after: BreakerUpdate[]; changed: BreakerUpdate[] } {
  const next = new Map<string, BreakerSnapshot>();
  for (const b of batch) {
    const current = next.get(b.agentKey) ?? stored.get(b.agentKey) ?? CLOSED_BREAKER;
    next.set(b.agentKey, applyBreakerOutcomes(current, b.policy, b.outcomes));
  }
  const after = [...next].map(([agentKey, snapshot]) => ({ agentKey, snapshot }));
  const changed = after.filter((u) => {
    const before = stored.get(u.agentKey);
    return !before || !sameBreaker(u.snapshot, before);
  });
  return { after, changed };
}
