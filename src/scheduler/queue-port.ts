import type {
  BreakerOutcome,
  BreakerPolicy,
  BreakerSnapshot,
  PriorityName,
  ResourceUsage,
  SerializedError,
  Task,
  TaskResult,
  TaskReceipt,
  TaskState,
} from '../core/index.js';
import type { FlagFacts } from '../provenance/index.js';
import type { LogPort } from './log-port.js';
import type { SessionPort } from './session-port.js';

// The queue port and its vocabulary: the scheduler owns them, every store backend implements them.

/** A new task, validated and resolved to one agent version by the caller. */
export interface NewTask {
  id: string;
  sessionId: string;
  agentKey: string;
  priority: PriorityName;
  maxAttempts: number;
  inputJson: string;
  inputDigest: string;
  deadline: number | null;
  timeoutMs: number | null;
  idempotencyKey: string | null;
  metadata: Record<string, string | number | boolean>;
  now: number;
  /** Governance flags raised on the input, stored with the task in the same transaction. */
  flags?: readonly FlagFacts[];
}

export interface SubmitOutcome {
  task: Task;
  /** True when an earlier task with the same idempotency key was returned instead. */
  deduplicated: boolean;
}

export interface ClaimRequest {
  now: number;
  limit: number;
  owner: string;
  leaseMs: number;
  /** Agent keys this worker can run. */
  runnable: readonly string[];
  /** Agent keys whose breaker holds their tasks. */
  held: readonly string[];
  /** Agent keys whose breaker admits exactly one probe (if none of theirs is running). */
  probing: readonly string[];
}

/** A task handed to a worker: state is running, attempts already counts this attempt. */
export interface ClaimedTask {
  id: string;
  sessionId: string;
  agentKey: string;
  priority: number;
  attempt: number;
  maxAttempts: number;
  inputJson: string;
  deadline: number | null;
  timeoutMs: number | null;
  leaseUntil: number;
  /**
   * The task's metadata as stored (JSON text), read with the claim: where its trace context (traceparent)
   * travels to whichever process runs it. Parsed only while tracing is on. Absent: not read by the backend.
   */
  metadataJson?: string;
  /** When the task was (re)queued, epoch ms, if the backend read it with the claim: its queue span's start. */
  queuedAt?: number;
}

export interface ClaimOutcome {
  claimed: ClaimedTask[];
  /** Tasks found past their deadline and failed with DEADLINE_EXCEEDED instead of running. */
  expired: string[];
  /** Earliest run_after among queued tasks that were not yet due, to sleep until. */
  nextRunAfter: number | null;
  /**
   * True when the claim saw nothing more that is due for this worker than what it claimed (a hint: until
   * new work is signalled, a freed slot need not claim). Absent: the backend does not say.
   */
  drained?: boolean;
}

interface FinishBase {
  taskId: string;
  sessionId: string;
  agentKey: string;
  owner: string;
  attempt: number;
  now: number;
  usage: ResourceUsage | null;
  /** Governance flags raised on the output, stored with the finish in the same transaction. */
  flags?: readonly FlagFacts[];
  /** The edge node's signed receipt of a run there: a `task.receipt` record before the result's. */
  receipt?: TaskReceipt;
}

export type Finish =
  | (FinishBase & { kind: 'succeeded'; outputJson: string; outputDigest: string })
  // Governance held the result back: the output is kept, the task stays here until released.
  | (FinishBase & { kind: 'quarantined'; outputJson: string; outputDigest: string; error: SerializedError })
  | (FinishBase & { kind: 'retry'; error: SerializedError; runAfter: number })
  | (FinishBase & { kind: 'dead' | 'failed' | 'cancelled'; error: SerializedError });

export interface FinishOutcome {
  applied: boolean[];
  next?: ClaimOutcome;
  /** The stored breaker after this finish of every agent version that `breakers` named. */
  breakers: BreakerUpdate[];
}

export interface BreakerUpdate {
  agentKey: string;
  snapshot: BreakerSnapshot;
}

/**
 * What a batch of finishes taught one agent version's breaker, for the store to apply to the stored breaker
 * (not a snapshot to overwrite it with): runs finished by every process then count exactly once.
 */
export interface BreakerOutcomes {
  agentKey: string;
  policy: BreakerPolicy;
  /** In the order the runs finished. */
  outcomes: readonly BreakerOutcome[];
}

export interface TaskFilter {
  sessionId?: string;
  /** Only tasks in this tenant's sessions. */
  tenant?: string;
  state?: TaskState;
  /** Exactly this agent version (`name@version`, or `tenant/name@version`). */
  agentKey?: string;
  /** Every version of this agent name (any tenant prefix). */
  agentName?: string;
  /** Only tasks with an id below this one (ids are UUIDv7: older): keyset pagination, newest first. */
  before?: string;
  limit?: number;
}

export interface DeadLetter {
  taskId: string;
  sessionId: string;
  agentKey: string;
  error: SerializedError;
  attempts: number;
  deadAt: number;
}

export interface StoreStats {
  byState: Record<string, number>;
  deadLetters: number;
  /** Queued tasks by priority level (0 = critical). */
  queuedByPriority: Record<number, number>;
}

/**
 * The durable task queue, as the scheduler (and the facade's task and dead-letter operations) use it. Every
 * method that changes a task also appends its provenance record in the same transaction.
 */
export interface QueuePort {
  submit(tasks: readonly NewTask[]): Promise<SubmitOutcome[]>;
  /**
   * Submits and, in the same transaction, claims for a worker of the submitting process (the claim sees the
   * new tasks and takes what is due in the usual order): a submit into an idle queue starts running with one
   * commit instead of two.
   */
  submitAndClaim(
    tasks: readonly NewTask[],
    next: ClaimRequest,
  ): Promise<{ outcomes: SubmitOutcome[]; next: ClaimOutcome }>;
  claim(request: ClaimRequest): Promise<ClaimOutcome>;
  /**
   * Applies finishes guarded by lease owner and attempt, and says which applied. With `next`, claims
   * the next tasks for the freed slots in the same transaction (one commit instead of two per batch).
   * `breakers` are applied to the stored breakers in the same transaction, each under a lock on its row
   * (see applyBreakerOutcomes); a version whose breaker does not change is not written.
   */
  finish(
    finishes: readonly Finish[],
    breakers: readonly BreakerOutcomes[],
    next?: ClaimRequest,
  ): Promise<FinishOutcome>;
  renewLeases(owner: string, taskIds: readonly string[], leaseUntil: number): Promise<void>;
  /** Returns running tasks whose lease ran out to the queue (or the DLQ after their last attempt). */
  reapExpiredLeases(now: number): Promise<number>;
  /** Cancels a queued task at once; marks a running one so its owner stops it. */
  cancel(taskId: string, now: number): Promise<{ state: TaskState; cancelledNow: boolean }>;
  cancelRequested(taskIds: readonly string[]): Promise<string[]>;

  getTask(taskId: string): Promise<Task | undefined>;
  listTasks(filter: TaskFilter): Promise<Task[]>;
  /**
   * The task's result, checked against the provenance record that commits to it (status, output digest,
   * output bytes): throws PROVENANCE_RESULT_MISMATCH rather than serve a result changed outside Warden.
   */
  getResult(taskId: string): Promise<TaskResult | undefined>;
  /**
   * Results of several tasks, each checked like getResult; a row that does not match its record comes back
   * as a failed result whose error is PROVENANCE_RESULT_MISMATCH, so one bad row does not fail the batch.
   */
  getResults(taskIds: readonly string[]): Promise<TaskResult[]>;
  /**
   * Queued plus running tasks per agent version (what a version still has to finish); with `tenant`, only
   * that tenant's tasks (a shared version's count must not show another tenant's load).
   */
  inFlightByAgent(tenant?: string): Promise<Map<string, number>>;
  /** `light` counts only queued and running tasks (index-only); the full count scans every task. */
  stats(options?: { light?: boolean }): Promise<StoreStats>;

  /** Dead letters, newest first; with `tenant`, only those of that tenant's sessions. */
  listDeadLetters(filter: { sessionId?: string; tenant?: string; limit?: number }): Promise<DeadLetter[]>;
  /**
   * Queues a dead letter again with `attempts` more attempts (default: its own max_attempts). Attempt
   * numbers continue from the dead run's: a late finish of an old attempt can never match the new run's
   * lease, and the new run's log lines do not collide with the old run's.
   */
  replayDeadLetter(taskId: string, now: number, attempts?: number): Promise<Task>;
  /** Purges the named dead letters or all of them; with `tenant`, only that tenant's are touched. */
  purgeDeadLetters(taskIds: readonly string[] | 'all', now: number, tenant?: string): Promise<number>;

  getBreakers(): Promise<Map<string, BreakerSnapshot>>;
  /**
   * Whether writes now commit on another thread, strictly in the order they were called, so that the
   * scheduler may keep a second batch in flight (see Batcher's maxInFlight). Absent: false.
   */
  pipelinesWrites?(): boolean;
  /**
   * Closes an agent version's breaker (an operator's reset) and records it, with `data`, in the chain of
   * every session holding queued tasks of that version. Returns the breaker it replaced; undefined when it
   * was closed already (nothing is written then).
   */
  resetBreaker(
    agentKey: string,
    now: number,
    data: Record<string, unknown>,
  ): Promise<BreakerSnapshot | undefined>;
}

/** What the scheduler runs on: the queue, plus the sessions it claims within and the log it writes. */
export type SchedulerStore = QueuePort & Pick<SessionPort, 'getSession'> & Pick<LogPort, 'appendLogs'>;
