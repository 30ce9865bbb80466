import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export interface SchedulerOptions {
  /** Tasks this process runs at once, over all sessions and agents. @default 32 */
  concurrency?: number;
  /** How often an idle worker looks for work submitted by other processes or retries coming due. @default 200 */
  pollIntervalMs?: number;
  /** How long a claimed task stays owned without a heartbeat; a dead worker's tasks return after this. @default 30000 */
  leaseMs?: number;
  /** How long close() waits for running tasks before it stops them and hands them back to the queue. @default 10000 */
  shutdownGraceMs?: number;
  /** Identifies this worker in leases and provenance. @default host:pid:random */
  workerId?: string;
  /** Time source; tests pass a fake one. @default Date.now */
  clock?: Clock;
  /** Jitter source in [0, 1). @default Math.random */
  random?: () => number;
  /**
   * Hold the process open while the scheduler runs, as a dedicated worker process needs (`warden worker`);
   * close() releases it. Off, the scheduler's timers never keep a library user's process alive (a pending
   * `result()` still does, until it settles). @default false
   */
  keepAlive?: boolean;
  /**
   * Return tasks whose lease ran out (anyone's) to the queue, every leaseMs / 2. Warden turns it off where
   * a PostgreSQL maintenance leader reaps for every node. @default true
   */
  reapLeases?: boolean;
}

export interface CompiledSchedulerOptions {
  concurrency: number;
  pollIntervalMs: number;
  leaseMs: number;
  heartbeatMs: number;
  reapIntervalMs: number;
  shutdownGraceMs: number;
  workerId: string;
  clock: Clock;
  random: () => number;
  keepAlive: boolean;
  reapLeases: boolean;
}

export function compileSchedulerOptions(o: SchedulerOptions = {}): CompiledSchedulerOptions {
  const leaseMs = o.leaseMs ?? 30_000;
  return {
    concurrency: Math.max(1, o.concurrency ?? 32),
    pollIntervalMs: o.pollIntervalMs ?? 200,
    leaseMs,
    heartbeatMs: Math.max(50, Math.floor(leaseMs / 3)),
    reapIntervalMs: Math.max(100, Math.floor(leaseMs / 2)),
    shutdownGraceMs: o.shutdownGraceMs ?? 10_000,
    workerId: o.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    clock: o.clock ?? systemClock,
    random: o.random ?? Math.random,
    keepAlive: o.keepAlive ?? false,
    reapLeases: o.reapLeases ?? true,
  };
}
