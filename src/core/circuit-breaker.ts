/**
 * Circuit breaker per agent version, as a pure state machine the scheduler persists.
 * closed --(N consecutive failures)--> open --(cooldown elapsed)--> half_open --(probe ok)--> closed
 *                                                                      \--(probe fails)--> open
 */
export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerPolicy {
  /** Consecutive failures that open the breaker. @default 5 */
  failureThreshold: number;
  /** How long an open breaker stays open before it lets one probe through. @default 30000 */
  cooldownMs: number;
}

export const DEFAULT_BREAKER: BreakerPolicy = Object.freeze({ failureThreshold: 5, cooldownMs: 30_000 });

export interface BreakerSnapshot {
  state: BreakerState;
  consecutiveFailures: number;
  openedAt: number | null;
}

export const CLOSED_BREAKER: BreakerSnapshot = Object.freeze({
  state: 'closed',
  consecutiveFailures: 0,
  openedAt: null,
});

export function onBreakerSuccess(_b: BreakerSnapshot): BreakerSnapshot {
  return CLOSED_BREAKER;
}

export function onBreakerFailure(b: BreakerSnapshot, policy: BreakerPolicy, now: number): BreakerSnapshot {
  const failures = b.consecutiveFailures + 1;
  if (b.state === 'half_open' || failures >= policy.failureThreshold) {
    return { state: 'open', consecutiveFailures: failures, openedAt: now };
  }
  return { state: 'closed', consecutiveFailures: failures, openedAt: null };
}

/** What the claimer may do with this agent now: run freely, send exactly one probe, or hold its tasks. */
export function breakerAdmission(
  b: BreakerSnapshot,
  policy: BreakerPolicy,
  now: number,
): 'run' | 'probe' | 'hold' {
  if (b.state === 'closed') return 'run';
  if (b.state === 'half_open') return 'probe';
  return now - (b.openedAt ?? 0) >= policy.cooldownMs ? 'probe' : 'hold';
}
