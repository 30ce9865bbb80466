import { describe, expect, it } from 'vitest';
import { expectCode, ManualClock, T0 } from './fixtures/harness.js';
import { ReplayGuard } from './replay-guard.js';

const accept = (g: ReplayGuard, ctr: number, nonce = `n${ctr}`, ts = T0): void =>
  g.commit(g.check('s', ctr, nonce, ts), ts);

describe('replay guard', () => {
  it('accepts increasing and in-window counters once each', () => {
    const g = new ReplayGuard({ windowSize: 8, clock: new ManualClock(), fenceAtStart: false });
    for (const c of [5, 3, 9, 4, 10]) accept(g, c);
    expectCode(() => accept(g, 9, 'fresh'), 'SWARM_REPLAY');
    expectCode(() => accept(g, 11, 'n3'), 'SWARM_REPLAY'); // nonce reuse with a new counter
    accept(g, 6);
    expectCode(() => accept(g, 2), 'SWARM_REORDERED'); // 2 <= 10 - 8
    accept(g, 7);
  });

  it('keeps senders apart and bounds the nonce set', () => {
    const g = new ReplayGuard({ windowSize: 4, clock: new ManualClock(), fenceAtStart: false });
    g.commit(g.check('a', 1, 'x', T0), T0);
    g.commit(g.check('b', 1, 'x', T0), T0);
    for (let i = 2; i < 10; i++) g.commit(g.check('a', i, `a${i}`, T0), T0);
    // 'x' fell out of a's bounded nonce ring, but counter 1 is far behind: still rejected.
    expectCode(() => g.check('a', 1, 'x', T0), 'SWARM_REORDERED');
  });

  it('enforces skew, age and the restart fence', () => {
    const clock = new ManualClock();
    const g = new ReplayGuard({ clock, maxFutureSkewMs: 1000, maxAgeMs: 5000 });
    expectCode(() => g.check('s', 1, 'a', T0 + 1001), 'SWARM_FUTURE');
    expectCode(() => g.check('s', 1, 'a', T0 - 1), 'SWARM_STALE'); // before the guard started
    clock.advance(6000);
    expectCode(() => g.check('s', 1, 'a', T0 + 500), 'SWARM_STALE');
    expect(g.check('s', 1, 'a', T0 + 1500)).toEqual({ sender: 's', counter: 1, nonce: 'a' });
  });
});
