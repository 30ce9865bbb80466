import { WardenError } from '../core/index.js';
import { badEncoding } from './bytes.js';
import { systemClock, type Clock } from './runtime.js';

/**
 * What a receiver persists so that a restart keeps refusing what it accepted before: each sender's
 * highest accepted counter. JSON-serialisable; take it with `snapshot()` (after each open for an exact
 * guard, at least at shutdown) and pass it back as `state`.
 */
export interface ReplayGuardState {
  v: 1;
  /** The guard's clock when the snapshot was taken; a restored guard fences at least there. */
  savedAt: number;
  /** `[sender, highest accepted counter]` pairs. */
  senders: [string, number][];
}

export interface ReplayGuardOptions {
  /** How many counters below the highest seen are still accepted out of order. @default 1024 */
  windowSize?: number;
  /** How far in the future a timestamp may be (clock skew). @default 30_000 */
  maxFutureSkewMs?: number;
  /** Oldest timestamp accepted. @default 300_000 (5 min) */
  maxAgeMs?: number;
  /**
   * Reject envelopes timestamped at or before the millisecond this guard was created, so a restarted
   * receiver (empty windows) cannot be fed envelopes its predecessor accepted. @default true
   */
  fenceAtStart?: boolean;
  /**
   * A predecessor's `snapshot()`: every counter at or below a sender's saved high-water mark is refused,
   * whatever its timestamp (this also covers envelopes dated ahead of the clock, which the fence cannot).
   */
  state?: ReplayGuardState;
  clock?: Clock;
}

interface SenderWindow {
  high: number;
  /** Counters at or below this were accepted before a restart (restored state); their slots are unknown. */
  floor: number;
  /** slot[c % size] holds c once counter c was accepted. */
  slots: Float64Array;
  nonces: Set<string>;
  ring: (string | undefined)[];
  next: number;
}

/** What a successful check hands back to commit once the envelope is authenticated. */
export interface ReplayTicket {
  sender: string;
  counter: number;
  nonce: string;
}

/**
 * Per-sender monotonic counters with a sliding window, a bounded set of recently seen nonces,
 * and timestamp limits. `check` never mutates; `commit` only after the envelope verified, so a
 * forgery cannot poison a sender's window.
 */
export class ReplayGuard {
  readonly #size: number;
  readonly #futureMs: number;
  readonly #ageMs: number;
  readonly #clock: Clock;
  readonly #fence: number;
  readonly #senders = new Map<string, SenderWindow>();

  constructor(options: ReplayGuardOptions = {}) {
    this.#size = options.windowSize ?? 1024;
    if (!Number.isSafeInteger(this.#size) || this.#size < 1)
      throw new RangeError('windowSize must be a positive integer');
    this.#futureMs = options.maxFutureSkewMs ?? 30_000;
    this.#ageMs = options.maxAgeMs ?? 300_000;
    this.#clock = options.clock ?? systemClock;
    const state = options.state === undefined ? undefined : parseState(options.state);
    // `<=` in check: the start millisecond itself is ambiguous, a predecessor may have accepted
    // envelopes stamped with it. max() keeps the fence if the clock stepped back across the restart.
    this.#fence =
      options.fenceAtStart === false ? -Infinity : Math.max(this.#clock.now(), state?.savedAt ?? -Infinity);
    for (const [sender, high] of state?.senders ?? []) this.#window(sender).floor = high;
  }

  /**
   * @throws WardenError SWARM_FUTURE, SWARM_STALE, SWARM_REPLAY, SWARM_REORDERED
   */
  check(sender: string, counter: number, nonce: string, timestamp: number): ReplayTicket {
    const now = this.#clock.now();
    const details = { sender, counter, timestamp };
    if (timestamp > now + this.#futureMs)
      throw new WardenError('SWARM_FUTURE', 'Envelope is dated in the future', { details });
    if (timestamp < now - this.#ageMs || timestamp <= this.#fence) {
      throw new WardenError('SWARM_STALE', 'Envelope timestamp is too old', { details });
    }
    const window = this.#senders.get(sender);
    if (window) {
      if (counter <= window.floor) {
        throw new WardenError('SWARM_REPLAY', 'Envelope counter is at or below the saved high-water mark', {
          details: { ...details, floor: window.floor },
        });
      }
      if (window.nonces.has(nonce))
        throw new WardenError('SWARM_REPLAY', 'Envelope nonce was already seen', { details });
      if (counter <= window.high) {
        if (counter <= window.high - this.#size) {
          throw new WardenError('SWARM_REORDERED', 'Envelope counter is behind the replay window', {
            details: { ...details, high: window.high, windowSize: this.#size },
          });
        }
        if (window.slots[counter % this.#size] === counter) {
          throw new WardenError('SWARM_REPLAY', 'Envelope counter was already seen', { details });
        }
      }
    }
    return { sender, counter, nonce };
  }

  /** Records an authenticated envelope. Re-checks, so two concurrent opens of one envelope cannot both pass. */
  commit(ticket: ReplayTicket, timestamp: number): void {
    this.check(ticket.sender, ticket.counter, ticket.nonce, timestamp);
    const window = this.#window(ticket.sender);
    window.slots[ticket.counter % this.#size] = ticket.counter;
    if (ticket.counter > window.high) window.high = ticket.counter;
    const evicted = window.ring[window.next];
    if (evicted !== undefined) window.nonces.delete(evicted);
    window.ring[window.next] = ticket.nonce;
    window.nonces.add(ticket.nonce);
    window.next = (window.next + 1) % this.#size;
  }

  /** Forgets a sender's window (for example after it was revoked). */
  forget(sender: string): void {
    this.#senders.delete(sender);
  }

  /** The state to persist and hand to the next guard (`state` option) after a restart. */
  snapshot(): ReplayGuardState {
    return {
      v: 1,
      savedAt: this.#clock.now(),
      senders: [...this.#senders].map(([sender, w]): [string, number] => [sender, Math.max(w.high, w.floor)]),
    };
  }

  #window(sender: string): SenderWindow {
    let window = this.#senders.get(sender);
    if (!window) {
      window = {
        high: -1,
        floor: -1,
        slots: new Float64Array(this.#size).fill(-1),
        nonces: new Set(),
        ring: new Array(this.#size),
        next: 0,
      };
      this.#senders.set(sender, window);
    }
    return window;
  }
}

function parseState(value: unknown): ReplayGuardState {
  const state = value as Partial<ReplayGuardState> | null;
  const ok =
    typeof state === 'object' &&
    state !== null &&
    state.v === 1 &&
    Number.isSafeInteger(state.savedAt) &&
    Array.isArray(state.senders) &&
    state.senders.every(
      (e: unknown) =>
        Array.isArray(e) &&
        e.length === 2 &&
        typeof e[0] === 'string' &&
        e[0].length > 0 &&
        Number.isSafeInteger(e[1]) &&
        e[1] >= -1,
    );
  if (!ok) throw badEncoding('Replay guard state is not a version-1 snapshot');
  return state as ReplayGuardState;
}
