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

/** One finished run as its agent version's breaker counts it: a success, or a failure at `at`. */
export interface BreakerOutcome {
  ok: boolean;
  at: number;
}

/**
 * Applies runs' outcomes in the order they finished. The store calls this on the breaker it holds locked,
 * so runs finished by any process count exactly once.
 */
export function applyBreakerOutcomes(
  b: BreakerSnapshot,
  policy: BreakerPolicy,
  outcomes: readonly BreakerOutcome[],
): BreakerSnapshot {
  let next = b;
  for (const o of outcomes) next = o.ok ? onBreakerSuccess(next) : onBreakerFailure(next, policy, o.at);
  return next;
}

export function sameBreaker(a: BreakerSnapshot, b: BreakerSnapshot): boolean {
  return a.state === b.state && a.consecutiveFailures === b.consecutiveFailures && a.openedAt === b.openedAt;
}

/** A breaker as shown to operators: `half_open` once the cooldown is over (the next task is a probe). */
export interface BreakerStatus {
  state: BreakerState;
  consecutiveFailures: number;
  openedAt: number | null;
  /** When an open breaker lets its probe through; null when closed. */
  nextProbeAt: number | null;
}

export function breakerStatus(b: BreakerSnapshot, policy: BreakerPolicy, now: number): BreakerStatus {
  if (b.state === 'closed')
    return { state: 'closed', consecutiveFailures: b.consecutiveFailures, openedAt: null, nextProbeAt: null };
  const nextProbeAt = (b.openedAt ?? 0) + policy.cooldownMs;
  return {
    state: b.state === 'half_open' || now >= nextProbeAt ? 'half_open' : 'open',
    consecutiveFailures: b.consecutiveFailures,
    openedAt: b.openedAt,
    nextProbeAt,
  };
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
