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

describe('replay guard across a restart', () => {
  it('a receiver restarted in the same millisecond refuses a replay of what its predecessor accepted', () => {
    const clock = new ManualClock();
    const before = new ReplayGuard({ clock });
    clock.advance(1);
    before.commit(before.check('s', 7, 'n7', clock.now()), clock.now());
    // Crash and restart within the same millisecond: the new guard's windows are empty.
    const after = new ReplayGuard({ clock });
    expectCode(() => after.check('s', 7, 'n7', clock.now()), 'SWARM_STALE');
  });
});

describe('replay guard restored from a snapshot', () => {
  it('refuses, after a same-millisecond restart, a replay dated ahead of the clock that the fence cannot catch', () => {
    const clock = new ManualClock();
    const before = new ReplayGuard({ clock });
    clock.advance(1);
    const ahead = clock.now() + 10_000; // the sender's clock runs 10 s ahead: within maxFutureSkewMs
    before.commit(before.check('s', 7, 'n7', ahead), ahead);
    before.commit(before.check('s', 5, 'n5', ahead), ahead);
    const saved = JSON.parse(JSON.stringify(before.snapshot())) as ReturnType<ReplayGuard['snapshot']>;

    const after = new ReplayGuard({ clock, state: saved });
    expectCode(() => after.check('s', 7, 'n7', ahead), 'SWARM_REPLAY');
    expectCode(() => after.check('s', 6, 'n6', ahead), 'SWARM_REPLAY'); // in-window slots were not saved
    after.commit(after.check('s', 8, 'n8', ahead), ahead);
    expect(after.snapshot().senders).toEqual([['s', 8]]);
    // Without the saved state only the fence stands, and it cannot tell this envelope was seen.
    expect(new ReplayGuard({ clock }).check('s', 7, 'n7', ahead).counter).toBe(7);
  });

  it('keeps the fence where the snapshot was taken if the clock stepped back, and refuses a malformed state', () => {
    const clock = new ManualClock();
    const saved = new ReplayGuard({ clock }).snapshot();
    clock.advance(-5000);
    const after = new ReplayGuard({ clock, state: saved });
    expectCode(() => after.check('s', 1, 'a', T0), 'SWARM_STALE');
    for (const state of [
      { v: 2, savedAt: T0, senders: [] },
      { v: 1, savedAt: T0, senders: [['s', 1.5]] },
      { v: 1, savedAt: T0, senders: {} },
    ]) {
      expectCode(() => new ReplayGuard({ clock, state: state as never }), 'SWARM_BAD_ENCODING');
    }
  });
});
