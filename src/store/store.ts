import type {
  AgentManifest,
  BreakerOutcome,
  BreakerPolicy,
  BreakerSnapshot,
  PriorityName,
  ResourceUsage,
  SerializedError,
  Session,
  Task,
  TaskResult,
  TaskState,
} from '../core/index.js';
import type { AgentCodeFile, AgentCodeVersion } from './agent-code.js';
import type {
  ChainReader,
  ChainVerification,
  FlagFacts,
  SignedTreeHead,
  StoredLink,
} from '../provenance/index.js';

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
  flags?: readonly TraceFlagRecord[];
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
  /** Governance flags raised on the output, stored with the finish in the same transaction. */
  flags?: readonly TraceFlagRecord[];
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

export interface AgentRecord {
  key: string;
  manifest: AgentManifest;
  /** SHA-256 of the version's code (module, entry or command files, model weights); null for inline handlers. */
  moduleDigest: string | null;
  createdAt: number;
  /** The tenant that registered it ('default' for the library, the CLI and installation admins). */
  tenant: string;
  /** Visible to every tenant (only installation admins share agents). */
  shared: boolean;
}

export type Role = 'admin' | 'operator' | 'viewer';

export interface ApiKeyRecord {
  id: string;
  tenant: string;
  role: Role;
  name: string;
  createdAt: number;
  revokedAt: number | null;
  /**
   * An installation-wide admin key (default tenant, created with `warden keys create --installation`):
   * it may share agents with every tenant and read installation-wide data such as metrics.
   */
  installation: boolean;
}

export interface TraceRecord {
  id: string;
  sessionId: string;
  taskId: string | null;
  data: unknown;
  digest: string;
  createdAt: number;
}

/** A trace without its document, as lists return it. */
export type TraceSummary = Omit<TraceRecord, 'data'>;

export interface TraceFilter {
  sessionId?: string;
  /** Only traces in this tenant's sessions. */
  tenant?: string;
  taskId?: string;
  /** Only traces created before this one (keyset pagination, newest first). */
  before?: { createdAt: number; id: string };
  limit: number;
}

export interface StoreStats {
  byState: Record<string, number>;
  deadLetters: number;
  /** Queued tasks by priority level (0 = critical). */
  queuedByPriority: Record<number, number>;
}

/**
 * The store port. Adapters own their connections and transactions; nothing of them leaks through here.
 * Every method that changes a task also appends its provenance record in the same transaction.
 */
export interface Store {
  readonly dialect: 'sqlite' | 'postgres';

  createSession(session: Session): Promise<Session>;
  /**
   * A session by id or name. With `tenant`, only that tenant's sessions are found, by id or name; without
   * it, an id finds any tenant's session and a name is looked up in the default tenant (library use).
   */
  getSession(idOrName: string, tenant?: string): Promise<Session | undefined>;
  listSessions(tenant?: string): Promise<Session[]>;

  /**
   * Registers an agent version in `manifest.tenant` (default tenant when unset). The same manifest and
   * code again is a no-op (with `shared`, it also shares the version); a different one is
   * AGENT_VERSION_CONFLICT.
   */
  putAgent(
    manifest: AgentManifest,
    moduleDigest: string | null,
    now: number,
    options?: { shared?: boolean },
  ): Promise<AgentRecord>;
  getAgent(key: string): Promise<AgentRecord | undefined>;
  /** Every version, or with `tenant` those it may use: its own and the shared ones. */
  listAgents(filter?: { tenant?: string }): Promise<AgentRecord[]>;

  /**
   * Stores agent files content-addressed by `digest` (see agentCodeDigest; a digest that does not match the
   * files is INVALID_INPUT) and, with `version`, records that this version runs from them, in one
   * transaction. Idempotent: the same files again change nothing, and a version's first record is kept.
   */
  putAgentCode(
    digest: string,
    files: readonly AgentCodeFile[],
    now: number,
    version?: AgentCodeVersion,
  ): Promise<void>;
  /** The files stored under `digest`, exactly as put (not verified here: the caller checks the digest). */
  getAgentCode(digest: string): Promise<AgentCodeFile[] | undefined>;
  /** The code digest recorded for a version (its key and registered module digest), if its code was stored. */
  agentCodeFor(version: AgentCodeVersion): Promise<string | undefined>;

  submit(tasks: readonly NewTask[]): Promise<SubmitOutcome[]>;
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
  /** Queued plus running tasks per agent version (what a version still has to finish). */
  inFlightByAgent(): Promise<Map<string, number>>;
  /** `light` counts only queued and running tasks (index-only); the full count scans every task. */
  stats(options?: { light?: boolean }): Promise<StoreStats>;

  /** Dead letters, newest first; with `tenant`, only those of that tenant's sessions. */
  listDeadLetters(filter: { sessionId?: string; tenant?: string; limit?: number }): Promise<DeadLetter[]>;
  replayDeadLetter(taskId: string, now: number): Promise<Task>;
  /** Purges the named dead letters or all of them; with `tenant`, only that tenant's are touched. */
  purgeDeadLetters(taskIds: readonly string[] | 'all', now: number, tenant?: string): Promise<number>;

  getBreakers(): Promise<Map<string, BreakerSnapshot>>;
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

  appendLogs(lines: readonly LogLine[]): Promise<void>;
  readLogs(taskId: string, after?: { attempt: number; line: number }): Promise<LogLine[]>;

  createApiKey(key: ApiKeyRecord, keyHash: string): Promise<void>;
  findApiKey(keyHash: string): Promise<ApiKeyRecord | undefined>;
  listApiKeys(tenant?: string): Promise<ApiKeyRecord[]>;
  revokeApiKey(id: string, now: number): Promise<boolean>;

  /** Stores a trace and records it in its session's provenance chain. */
  createTrace(trace: Omit<TraceRecord, 'data'> & { dataJson: string }): Promise<TraceRecord>;
  getTrace(id: string): Promise<TraceRecord | undefined>;
  /** Traces newest first, without their documents. */
  listTraces(filter: TraceFilter): Promise<TraceSummary[]>;
  /** The records of the trace's session chain that are about the trace (created, provenance), in order. */
  readTraceProvenance(sessionId: string, traceId: string): Promise<StoredLink[]>;
  /** Appends a caller-provided provenance record about a trace to its session's chain; returns its seq and hash. */
  appendTraceProvenance(
    traceId: string,
    event: { kind: string; data: Record<string, unknown> },
    now: number,
  ): Promise<{ seq: number; hash: string }>;

  // Governance (src/governance): trace flags and decisions, each also a provenance record.
  /** Stores the record's flags and appends its provenance record(s) in one transaction. */
  recordGovernance(record: GovernanceRecord): Promise<void>;
  listFlags(filter: FlagFilter): Promise<TraceFlagRecord[]>;
  flagCounts(sessionId?: string): Promise<FlagCount[]>;
  /** Moves a quarantined task to succeeded (INVALID_STATE otherwise) and records the release. */
  releaseQuarantined(taskId: string, now: number, data: Record<string, unknown>): Promise<Task>;
  /** The latest finished runs of an agent version, newest first. */
  agentHistory(agentKey: string, limit: number): Promise<AgentRunStat[]>;

  readChain(sessionId: string): Promise<StoredLink[]>;
  /**
   * Verifies a session end to end (see verifyStoredSession): the chain, its latest signed tree head, the
   * witness outside the database, and every task's result row against its records. Reads a snapshot in
   * pages and gives way to the event loop between them.
   */
  verifyChain(sessionId: string): Promise<ChainVerification>;
  /** A consistent read-only view for verifying and exporting; close it when done. */
  openChainReader(): Promise<ChainReader>;
  /** The latest head of every session that the witness outside the database holds (none without one). */
  witnessedHeads(): Promise<SignedTreeHead[]>;
  /** The session's latest signed tree head: signed after commits, at most once per sign interval. */
  latestTreeHead(sessionId: string): Promise<SignedTreeHead | undefined>;
  /** Signs the session's tree at its current chain head now, stores it and returns it (undefined: no records). */
  signTreeHead(sessionId: string): Promise<SignedTreeHead | undefined>;
  /** The public half of the node's Ed25519 tree-head key. */
  treeHeadPublicKey(): { keyId: string; publicKeyPem: string };

  close(): Promise<void>;
}

/**
 * A trace flag as stored; src/governance owns the meaning of type, severity and stage. The same fields
 * its provenance record names (src/provenance builds that record, for every backend).
 */
export type TraceFlagRecord = FlagFacts;

/** A governance decision for the provenance chain, with the flags it raised. */
export interface GovernanceRecord {
  type:
    'governance.flagged' | 'governance.blocked' | 'governance.merge_refused' | 'governance.merge_accepted';
  sessionId: string;
  at: number;
  taskId?: string;
  agent?: string;
  data: Record<string, unknown>;
  flags: readonly TraceFlagRecord[];
}

export interface FlagFilter {
  sessionId?: string;
  taskIds?: readonly string[];
  limit?: number;
}

export interface FlagCount {
  type: string;
  severity: number;
  agentKey: string;
  count: number;
}

export interface AgentRunStat {
  status: string;
  wallMs: number | null;
  outputBytes: number;
  finishedAt: number;
}
