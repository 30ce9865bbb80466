import type { Task } from '../core/index.js';
import type { FlagFacts, LedgerPort } from '../provenance/index.js';
import type { QueuePort, SessionPort } from '../scheduler/index.js';

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

/** What governance stores: trace flags and decisions, each also a provenance record, and run history. */
export interface GovernancePort {
  /** Stores the record's flags and appends its provenance record(s) in one transaction. */
  recordGovernance(record: GovernanceRecord): Promise<void>;
  listFlags(filter: FlagFilter): Promise<TraceFlagRecord[]>;
  flagCounts(sessionId?: string): Promise<FlagCount[]>;
  /** Moves a quarantined task to succeeded (INVALID_STATE otherwise) and records the release. */
  releaseQuarantined(taskId: string, now: number, data: Record<string, unknown>): Promise<Task>;
  /** The latest finished runs of an agent version, newest first. */
  agentHistory(agentKey: string, limit: number): Promise<AgentRunStat[]>;
}

/**
 * What Governance is opened on: its own port, and the reads it screens with (sessions' policies, tasks and
 * results, chains and traces for merge validation).
 */
export type GovernanceStore = GovernancePort &
  Pick<SessionPort, 'getSession'> &
  Pick<QueuePort, 'getTask' | 'getResult'> &
  Pick<LedgerPort, 'readChain' | 'verifyChain' | 'getTrace'>;
