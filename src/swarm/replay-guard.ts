import { WardenError } from '../core/index.js';
import { systemClock, type Clock } from './runtime.js';

export interface ReplayGuardOptions {
  /** How many counters below the highest seen are still accepted out of order. @default 1024 */
  windowSize?: number;
  /** How far in the future a timestamp may be (clock skew). @default 30_000 */
  maxFutureSkewMs?: number;
  /** Oldest timestamp accepted. @default 300_000 (5 min) */
  maxAgeMs?: number;
  /**
   * Reject envelopes timestamped before this guard was created, so a restarted receiver (empty
   * windows) cannot be fed old envelopes. @default true
   */
  fenceAtStart?: boolean;
  clock?: Clock;
}

interface SenderWindow {
  high: number;
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
    this.#fence = options.fenceAtStart === false ? -Infinity : this.#clock.now();
  }

  /**
   * @throws WardenError SWARM_FUTURE, SWARM_STALE, SWARM_REPLAY, SWARM_REORDERED
   */
  check(sender: string, counter: number, nonce: string, timestamp: number): ReplayTicket {
    const now = this.#clock.now();
    const details = { sender, counter, timestamp };
    if (timestamp > now + this.#futureMs)
      throw new WardenError('SWARM_FUTURE', 'Envelope is dated in the future', { details });
    if (timestamp < now - this.#ageMs || timestamp < this.#fence) {
      throw new WardenError('SWARM_STALE', 'Envelope timestamp is too old', { details });
    }
    const window = this.#senders.get(sender);
    if (window) {
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
    let window = this.#senders.get(ticket.sender);
    if (!window) {
      window = {
        high: -1,
        slots: new Float64Array(this.#size).fill(-1),
        nonces: new Set(),
        ring: new Array(this.#size),
        next: 0,
      };
      this.#senders.set(ticket.sender, window);
    }
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
}
