import type { LlmUsage, SerializedError, TaskReceipt } from '../core/index.js';
import { chainRecord, sha256Hex, type ChainHead, type ChainedRecord, type ProvenanceEvent } from './chain.js';

// The provenance record vocabulary: what each store operation appends to a session's chain, and the error
// objects it stores with the result rows those records commit to. Pure: every store backend builds its
// records here, so the same operations write byte-identical chains on SQLite and on PostgreSQL.

/** A trace flag: the fields its provenance record names (the store's TraceFlagRecord is this type). */
export interface FlagFacts {
  id: string;
  sessionId: string;
  taskId: string | null;
  agentKey: string | null;
  type: string;
  severity: number;
  reason: string;
  autoDetected: boolean;
  detector: string | null;
  stage: string;
  createdAt: number;
}

export function sessionCreated(s: {
  name: string;
  tenant: string;
  maxConcurrency: number;
  allowNetwork: boolean;
  policy: string;
  placement?: string;
  createdAt: number;
}): ProvenanceEvent {
  return {
    type: 'session.created',
    at: s.createdAt,
    data: {
      name: s.name,
      tenant: s.tenant,
      maxConcurrency: s.maxConcurrency,
      allowNetwork: s.allowNetwork,
      policy: s.policy,
      ...(s.placement ? { placement: s.placement } : {}),
    },
  };
}

export function taskSubmitted(t: {
  id: string;
  agentKey: string;
  priority: string;
  inputDigest: string;
  idempotencyKey: string | null;
  now: number;
}): ProvenanceEvent {
  return {
    type: 'task.submitted',
    at: t.now,
    taskId: t.id,
    agent: t.agentKey,
    data: {
      priority: t.priority,
      inputDigest: t.inputDigest,
      ...(t.idempotencyKey ? { idempotencyKey: t.idempotencyKey } : {}),
    },
  };
}

export function taskStarted(
  taskId: string,
  agent: string,
  attempt: number,
  worker: string,
  at: number,
): ProvenanceEvent {
  return { type: 'task.started', at, taskId, attempt, agent, data: { worker } };
}

/** The error stored for a queued task whose deadline passed before it could run. */
export function deadlineError(deadline: number): SerializedError {
  return {
    code: 'DEADLINE_EXCEEDED',
    message: `The task's deadline (${new Date(deadline).toISOString()}) passed before it could run`,
    retryable: false,
  };
}

export function deadlineExpired(taskId: string, agent: string, at: number): ProvenanceEvent {
  return { type: 'task.failed', at, taskId, agent, data: { error: 'DEADLINE_EXCEEDED' } };
}

/** What a finish carries that its record names. */
export interface FinishFacts {
  kind: 'succeeded' | 'quarantined' | 'retry' | 'dead' | 'failed' | 'cancelled';
  taskId: string;
  agentKey: string;
  attempt: number;
  now: number;
  error?: SerializedError;
  runAfter?: number;
  outputDigest?: string;
  usage?: { llm?: LlmUsage } | null;
}

/**
 * An edge node's signed receipt of a task's run, with the node's registration that verifies it offline.
 * Written just before the run's result record, in the same transaction.
 */
export function taskReceipt(f: {
  taskId: string;
  agentKey: string;
  attempt: number;
  now: number;
  receipt: TaskReceipt;
}): ProvenanceEvent {
  return {
    type: 'task.receipt',
    at: f.now,
    taskId: f.taskId,
    attempt: f.attempt,
    agent: f.agentKey,
    data: { nodeId: f.receipt.nodeId, registration: f.receipt.registration, receipt: f.receipt.receipt },
  };
}

/** The record of a finish (retry, success, quarantine or terminal failure). */
export function taskFinished(f: FinishFacts): ProvenanceEvent {
  // Literals throughout (no `{ ...base, type }`): a spread followed by more properties is a slow path in
  // V8 (Node 20), and this runs for every task.
  const { now: at, taskId, attempt, agentKey: agent } = f;
  switch (f.kind) {
    case 'retry':
      return {
        at,
        taskId,
        attempt,
        agent,
        type: 'task.attempt_failed',
        data: { error: f.error!.code, retryAt: f.runAfter },
      };
    case 'succeeded':
    case 'quarantined': {
      const outputDigest = f.outputDigest;
      return {
        at,
        taskId,
        attempt,
        agent,
        type: f.kind === 'succeeded' ? 'task.succeeded' : 'task.quarantined',
        // An LLM answer's provenance names the model that produced it and what it consumed.
        data: f.usage?.llm ? { outputDigest, model: modelRecord(f.usage.llm) } : { outputDigest },
      };
    }
    default: {
      const type =
        f.kind === 'dead' ? 'task.dead_lettered' : f.kind === 'failed' ? 'task.failed' : 'task.cancelled';
      return { at, taskId, attempt, agent, type, data: { error: f.error!.code } };
    }
  }
}

function modelRecord(u: LlmUsage): Record<string, string | number | null> {
  return {
    provider: u.provider,
    model: u.model,
    promptTokens: u.promptTokens,
    completionTokens: u.completionTokens,
  };
}

/** Errors of a running task whose lease ran out: cancelled (it was asked to stop) or lease expired. */
export const reapedCancelError = (): SerializedError => ({
  code: 'CANCELLED',
  message: 'Cancelled while its worker was gone',
  retryable: false,
});

export const leaseExpiredError = (attempt: number): SerializedError => ({
  code: 'LEASE_EXPIRED',
  message: `The worker running attempt ${attempt} stopped renewing its lease (it probably died)`,
  retryable: true,
});

export function leaseExpired(
  taskId: string,
  agent: string,
  attempt: number,
  worker: string | null,
  at: number,
): ProvenanceEvent {
  return { at, taskId, attempt, agent, type: 'task.lease_expired', data: { worker } };
}

/** A running task the reaper ended: dead-lettered after its last attempt, or cancelled. */
export function reapedTerminal(
  state: 'dead' | 'cancelled',
  taskId: string,
  agent: string,
  attempt: number,
  error: SerializedError,
  at: number,
): ProvenanceEvent {
  return {
    type: state === 'dead' ? 'task.dead_lettered' : 'task.cancelled',
    at,
    taskId,
    attempt,
    agent,
    data: { error: error.code },
  };
}

export const cancelledQueuedErrorJson = (): string =>
  JSON.stringify({ code: 'CANCELLED', message: 'Cancelled before it ran', retryable: false });

export function cancelledQueued(taskId: string, agent: string, at: number): ProvenanceEvent {
  return { type: 'task.cancelled', at, taskId, agent, data: { error: 'CANCELLED' } };
}

export function taskReplayed(taskId: string, agent: string, at: number): ProvenanceEvent {
  return { type: 'task.replayed', at, taskId, agent };
}

export function taskPurged(taskId: string, agent: string, at: number): ProvenanceEvent {
  return { type: 'task.purged', at, taskId, agent };
}

export function breakerReset(
  agent: string,
  at: number,
  data: Record<string, unknown>,
  previous: { state: string; consecutiveFailures: number; openedAt: number | null },
): ProvenanceEvent {
  return { type: 'agent.breaker_reset', at, agent, data: { ...data, previous: { ...previous } } };
}

/** A canary rollout started, or its verdict (docs/routing.md), recorded where a submit made it. */
export function rolloutRecorded(
  r: {
    name: string;
    canaryKey: string;
    stableKey: string;
    state: 'canary' | 'promoted' | 'rolled-back';
    share: number;
    reason: string | null;
  },
  at: number,
  data: Record<string, unknown>,
): ProvenanceEvent {
  const type =
    r.state === 'canary'
      ? 'agent.rollout_started'
      : r.state === 'promoted'
        ? 'agent.rollout_promoted'
        : 'agent.rollout_rolled_back';
  return {
    type,
    at,
    agent: r.canaryKey,
    data: {
      name: r.name,
      stable: r.stableKey,
      share: r.share,
      ...(r.reason ? { reason: r.reason } : {}),
      ...data,
    },
  };
}

export function flagSummary(f: FlagFacts) {
  return {
    id: f.id,
    type: f.type,
    severity: f.severity,
    reason: f.reason,
    autoDetected: f.autoDetected,
    stage: f.stage,
    ...(f.detector ? { detector: f.detector } : {}),
  };
}

/** One 'governance.flagged' record for flags raised together (the first one says where). */
export function governanceFlagged(flags: readonly FlagFacts[]): ProvenanceEvent | undefined {
  const first = flags[0];
  if (!first) return undefined;
  return {
    type: 'governance.flagged',
    at: first.createdAt,
    ...(first.taskId ? { taskId: first.taskId } : {}),
    ...(first.agentKey ? { agent: first.agentKey } : {}),
    data: { flags: flags.map(flagSummary) },
  };
}

/** A governance decision other than a flag (blocked, merge refused or accepted), with its flags. */
export function governanceDecision(r: {
  type: 'governance.blocked' | 'governance.merge_refused' | 'governance.merge_accepted';
  at: number;
  taskId?: string;
  agent?: string;
  data: Record<string, unknown>;
  flags: readonly FlagFacts[];
}): ProvenanceEvent {
  return {
    type: r.type,
    at: r.at,
    ...(r.taskId ? { taskId: r.taskId } : {}),
    ...(r.agent ? { agent: r.agent } : {}),
    data: { ...r.data, ...(r.flags.length ? { flags: r.flags.map(flagSummary) } : {}) },
  };
}

export function taskReleased(
  taskId: string,
  agent: string,
  at: number,
  data: Record<string, unknown>,
  outputDigest: string | null,
): ProvenanceEvent {
  return { type: 'task.released', at, taskId, agent, data: { ...data, outputDigest } };
}

export function traceCreated(t: {
  id: string;
  taskId: string | null;
  digest: string;
  createdAt: number;
}): ProvenanceEvent {
  return {
    type: 'trace.created',
    at: t.createdAt,
    ...(t.taskId ? { taskId: t.taskId } : {}),
    data: { traceId: t.id, digest: t.digest },
  };
}

export function traceProvenanceEvent(
  trace: { id: string; taskId: string | null },
  event: { kind: string; data: Record<string, unknown> },
  at: number,
): ProvenanceEvent {
  return {
    type: 'trace.provenance',
    at,
    ...(trace.taskId ? { taskId: trace.taskId } : {}),
    data: {
      traceId: trace.id,
      kind: event.kind,
      digest: sha256Hex(JSON.stringify(event.data)),
      ...event.data,
    },
  };
}

/** Told the seq an event was appended at, still inside the transaction (e.g. to write a row that names it). */
export type OnAppended = (seq: number) => void;

/**
 * A transaction's provenance events, collected per session in the order they were added, to be appended
 * to each session's chain when the transaction body is done (one head read and one head write per session).
 * With `agentDigest`, every record that names an agent version also carries that version's registered
 * code digest (`data.agentDigest`), so a record says which code ran, not only which name.
 */
export class ChainBatch {
  private readonly pending = new Map<string, [ProvenanceEvent, OnAppended | undefined][]>();

  constructor(private readonly agentDigest?: (agentKey: string) => string | null) {}

  add(sessionId: string, event: ProvenanceEvent, onAppended?: OnAppended): void {
    const list = this.pending.get(sessionId);
    if (list) list.push([event, onAppended]);
    else this.pending.set(sessionId, [[event, onAppended]]);
  }

  /** Sessions with pending events, sorted (a fixed lock order across concurrent writers). */
  sessions(): string[] {
    return [...this.pending.keys()].sort();
  }

  /** Agent versions the pending events name (to look their code digests up before linking). */
  agents(): Set<string> {
    const out = new Set<string>();
    for (const events of this.pending.values()) for (const [e] of events) if (e.agent) out.add(e.agent);
    return out;
  }

  get size(): number {
    return this.pending.size;
  }

  /**
   * Links the session's pending events after `head`, calling each event's onAppended with its seq,
   * and forgets them (unless `keep`: a writer that links against a head it only expects, and links again
   * after the real head if that turns out different). Returns the links in order (empty when there were none).
   */
  link(sessionId: string, head: ChainHead | null, keep = false): ChainedRecord[] {
    const events = this.pending.get(sessionId) ?? [];
    if (!keep) this.pending.delete(sessionId);
    const out: ChainedRecord[] = [];
    for (const [raw, onAppended] of events) {
      const digest = raw.agent && this.agentDigest?.(raw.agent);
      const event = digest
        ? Object.assign({}, raw, { data: Object.assign({}, raw.data, { agentDigest: digest }) })
        : raw;
      const link = chainRecord(sessionId, head, event);
      onAppended?.(link.record.seq);
      out.push(link);
      head = { seq: link.record.seq, hash: link.hash };
    }
    return out;
  }

  clear(): void {
    this.pending.clear();
  }
}

/** Who a memory item belongs to within its session: one agent (by name), or the whole session. */
function memoryScope(agent: string | null): Record<string, string> {
  return agent === null ? { scope: 'session' } : { scope: 'agent', agent };
}

/**
 * A memory item stored (src/memory). The record names the item and a digest of its text, never the text:
 * the chain proves what was remembered and when without holding it.
 */
export function memoryPut(m: {
  id: string;
  agent: string | null;
  textDigest: string;
  taskId: string | null;
  createdAt: number;
  expiresAt: number | null;
}): ProvenanceEvent {
  return {
    type: 'memory.put',
    at: m.createdAt,
    ...(m.taskId ? { taskId: m.taskId } : {}),
    data: {
      memoryId: m.id,
      ...memoryScope(m.agent),
      textDigest: m.textDigest,
      ...(m.expiresAt !== null ? { expiresAt: m.expiresAt } : {}),
    },
  };
}

/** A memory item removed: forgotten on request, expired (its TTL passed) or evicted (its scope was full). */
export function memoryForget(m: {
  id: string;
  agent: string | null;
  reason: 'forgotten' | 'expired' | 'evicted';
  at: number;
}): ProvenanceEvent {
  return {
    type: 'memory.forget',
    at: m.at,
    data: { memoryId: m.id, ...memoryScope(m.agent), reason: m.reason },
  };
}

/**
 * A user's score of a finished task (KPIs, docs/kpi.md). A comment is named by its digest, not its text,
 * as memory items are: the chain proves what was said and when without holding it.
 */
export function taskFeedback(f: {
  taskId: string;
  agentKey: string;
  score: number;
  comment?: string;
  createdAt: number;
  /** Who recorded it (api, cli, library). @default 'library' */
  via?: string;
}): ProvenanceEvent {
  return {
    type: 'task.feedback',
    at: f.createdAt,
    taskId: f.taskId,
    agent: f.agentKey,
    data: {
      score: f.score,
      via: f.via ?? 'library',
      ...(f.comment !== undefined ? { commentDigest: sha256Hex(f.comment) } : {}),
    },
  };
}
