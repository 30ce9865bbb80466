import { describe, expect, it } from 'vitest';
import { applyBreakerOutcomes, CLOSED_BREAKER, type BreakerSnapshot } from './circuit-breaker.js';

const policy = { failureThreshold: 3, cooldownMs: 1000 };
const F = (at: number) => ({ ok: false, at });
const S = (at: number) => ({ ok: true, at });
const closed = (n: number): BreakerSnapshot => ({ state: 'closed', consecutiveFailures: n, openedAt: null });
const open = (n: number, at: number): BreakerSnapshot => ({
  state: 'open',
  consecutiveFailures: n,
  openedAt: at,
});

describe('applyBreakerOutcomes', () => {
  it.each([
    ['nothing changes nothing', closed(2), [], closed(2)],
    ['failures add to the stored count', closed(1), [F(1)], closed(2)],
    ['the threshold-th failure opens it, at its time', closed(1), [F(1), F(2)], open(3, 2)],
    ['a success in between resets the count', closed(0), [F(1), S(2), F(3)], closed(1)],
    ['a success closes an open breaker (a probe that passed)', open(3, 1), [S(5)], CLOSED_BREAKER],
    ['a failure on an open breaker reopens it from its time', open(3, 1), [F(5)], open(4, 5)],
    [
      'a probe that failed on a half-open one opens it',
      { ...open(3, 1), state: 'half_open' },
      [F(7)],
      open(4, 7),
    ],
  ] as const)('%s', (_name, before, outcomes, after) => {
    expect(applyBreakerOutcomes(before, policy, outcomes)).toEqual(after);
  });
});
