import type { RunTrace } from '../sandbox/index.js';
import type { ClaimedTask, Finish } from './queue-port.js';

// The tracing port: what the scheduler tells a tracer about each attempt (src/telemetry implements it with
// OpenTelemetry). Unset, the scheduler makes no call, reads no clock and allocates nothing for it.

/** One claim transaction, shared by the tasks it claimed (times from performance.now()). */
export interface ClaimTiming {
  start: number;
  end: number;
  /** Which transaction claimed: a claim of its own, or the one that committed a submit or a finish. */
  via: 'claim' | 'submit' | 'finish';
  /** Tasks it claimed. */
  size: number;
}

/** The task's stored trace context and queue times, for an attempt whose submit this process did not see. */
export interface StoredTaskTrace {
  metadata: Readonly<Record<string, string | number | boolean>>;
  /** When the task was submitted (epoch ms). */
  createdAt: number;
  /** When it was last put back in the queue (epoch ms): its retry's start of queue wait. */
  updatedAt: number;
}

export interface SchedulerTracer {
  /**
   * Starts an attempt's spans: its queue wait and claim (already over) and the attempt itself, parented to
   * the task's trace context (known here since its submit, read with the claim, or else read with `stored`:
   * only then is the answer a promise, so that the hot path takes no extra turn).
   */
  startAttempt(
    task: ClaimedTask,
    claim: ClaimTiming | undefined,
    workerId: string,
    stored: () => Promise<StoredTaskTrace | undefined>,
  ): AttemptTrace | Promise<AttemptTrace>;
}

/** One attempt's span; the runtime gets it as RunContext.trace. */
export interface AttemptTrace extends RunTrace {
  /** The agent version was prepared: its runtime and isolation. */
  prepared(runtime: string, isolation: string | undefined): void;
  /** Governance screened the outcome between `start` and now. */
  screened(start: number, finish: Finish): void;
  /** The finish (and its provenance record) was committed between `start` and now; `applied`: the lease held. */
  appended(start: number, finish: Finish, applied: boolean): void;
  /** Ends the attempt span with the finish's outcome. */
  end(finish: Finish): void;
}
