export interface RetryPolicy {
  /** Total attempts including the first. @default 3 */
  maxAttempts: number;
  /** Base of the exponential backoff. @default 1000 */
  baseMs: number;
  /** Cap of one backoff delay. @default 60000 */
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = Object.freeze({ maxAttempts: 3, baseMs: 1000, maxMs: 60_000 });

/** Upper bound of the delay after `attempt` failed attempts (1-based): min(maxMs, baseMs * 2^(attempt-1)). */
export function backoffCeilingMs(policy: RetryPolicy, attempt: number): number {
  const exp = Math.min(attempt - 1, 52);
  return Math.min(policy.maxMs, policy.baseMs * 2 ** exp);
}

/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"):
 * a uniform delay in [0, ceiling] spreads retries of many failing tasks instead of synchronising them.
 */
export function backoffDelayMs(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * (backoffCeilingMs(policy, attempt) + 1));
}
