import type {
  AgentManifest,
  BreakerSnapshot,
  PriorityName,
  ResourceUsage,
  SerializedError,
  Session,
  Task,
  TaskResult,
  TaskState,
} from '../core/index.js';
import type { ChainVerification, StoredLink } from '../provenance/index.js';

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
}

export interface ClaimOutcome {
  claimed: ClaimedTask[];
  /** Tasks found past their deadline and failed with DEADLINE_EXCEEDED instead of running. */
  expired: string[];
  /** Earliest run_after among queued tasks that were not yet due, to sleep until. */
  nextRunAfter: number | null;
}

interface FinishBase {
  taskId: string;
  sessionId: string;
  agentKey: string;
  owner: string;
  attempt: number;
  now: number;
  usage: ResourceUsage | null;
}

export type Finish =
  | (FinishBase & { kind: 'succeeded'; outputJson: string; outputDigest: string })
  | (FinishBase & { kind: 'retry'; error: SerializedError; runAfter: number })
  | (FinishBase & { kind: 'dead' | 'failed' | 'cancelled'; error: SerializedError });

export interface FinishOutcome {
  applied: boolean[];
  next?: ClaimOutcome;
}

export interface BreakerUpdate {
  agentKey: string;
  snapshot: BreakerSnapshot;
}

export interface LogLine {
  taskId: string;
  attempt: number;
  line: number;
  stream: 'stdout' | 'stderr' | 'event';
  message: string;
  at: number;
}

export interface TaskFilter {
  sessionId?: string;
  state?: TaskState;
  agentKey?: string;
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

export interface AgentRecord {
  key: string;
  manifest: AgentManifest;
  moduleDigest: string | null;
  createdAt: number;
}

export interface StoreStats {
  byState: Record<string, number>;
  deadLetters: number;
}

/**
 * The store port. Adapters own their connections and transactions; nothing of them leaks through here.
 * Every method that changes a task also appends its provenance record in the same transaction.
 */
export interface Store {
  readonly dialect: 'sqlite' | 'postgres';

  createSession(session: Session): Promise<Session>;
  getSession(idOrName: string, tenant?: string): Promise<Session | undefined>;
  listSessions(tenant?: string): Promise<Session[]>;

  /** Registers an agent version. The same manifest again is a no-op; a different one is AGENT_VERSION_CONFLICT. */
  putAgent(manifest: AgentManifest, moduleDigest: string | null, now: number): Promise<AgentRecord>;
  getAgent(key: string): Promise<AgentRecord | undefined>;
  listAgents(): Promise<AgentRecord[]>;

  submit(tasks: readonly NewTask[]): Promise<SubmitOutcome[]>;
  claim(request: ClaimRequest): Promise<ClaimOutcome>;
  /**
   * Applies finishes guarded by lease owner and attempt, and says which applied. With `next`, claims
   * the next tasks for the freed slots in the same transaction (one commit instead of two per batch).
   */
  finish(
    finishes: readonly Finish[],
    breakers: readonly BreakerUpdate[],
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
  getResult(taskId: string): Promise<TaskResult | undefined>;
  getResults(taskIds: readonly string[]): Promise<TaskResult[]>;
  stats(): Promise<StoreStats>;

  listDeadLetters(filter: { sessionId?: string; limit?: number }): Promise<DeadLetter[]>;
  replayDeadLetter(taskId: string, now: number): Promise<Task>;
  purgeDeadLetters(taskIds: readonly string[] | 'all', now: number): Promise<number>;

  getBreakers(): Promise<Map<string, BreakerSnapshot>>;

  appendLogs(lines: readonly LogLine[]): Promise<void>;
  readLogs(taskId: string, after?: { attempt: number; line: number }): Promise<LogLine[]>;

  readChain(sessionId: string): Promise<StoredLink[]>;
  verifyChain(sessionId: string): Promise<ChainVerification>;

  close(): Promise<void>;
}
