import type { ApiKeyPort } from '../api/index.js';
import type { GovernancePort } from '../governance/index.js';
import type { LedgerPort } from '../provenance/index.js';
import type { MemoryPort } from '../memory/index.js';
import type { RolloutPort } from '../routing/index.js';
import type { LogPort, QueuePort, SessionPort } from '../scheduler/index.js';
import type { AgentPort, KpiPort, OverviewPort } from '../warden/index.js';

// The ports are owned by the modules that use them (hexagonal: the consumer says what it needs); this folder
// holds the adapters that implement them. Their vocabulary is re-exported here for the adapters and tests.
export type {
  NewTask,
  SubmitOutcome,
  ClaimRequest,
  ClaimedTask,
  ClaimOutcome,
  Finish,
  FinishOutcome,
  BreakerUpdate,
  BreakerOutcomes,
  TaskFilter,
  DeadLetter,
  StoreStats,
  LogLine,
} from '../scheduler/index.js';
export type {
  AgentRecord,
  AgentKpi,
  KpiFilter,
  TaskFeedback,
  ActivityBucket,
  ActivityQuery,
  TenantActivity,
} from '../warden/index.js';
export type { ApiKeyRecord, Role } from '../api/index.js';
export type { TraceRecord, TraceSummary, TraceFilter } from '../provenance/index.js';
export type {
  TraceFlagRecord,
  GovernanceRecord,
  FlagFilter,
  FlagCount,
  AgentRunStat,
} from '../governance/index.js';

/**
 * A whole store: every port, as a backend (SQLite, PostgreSQL) implements them over one database. Adapters own
 * their connections and transactions; nothing of them leaks through here. Every method that changes a task
 * also appends its provenance record in the same transaction. Only the backend opener and the Warden facade
 * hold a whole Store; the parts they assemble take the ports they use. Tree heads are signed with the node key
 * the opener hands the adapter (openBackend), whose public half is that signer's, not the store's.
 */
export interface Store
  extends
    QueuePort,
    SessionPort,
    LogPort,
    AgentPort,
    LedgerPort,
    GovernancePort,
    ApiKeyPort,
    RolloutPort,
    KpiPort,
    OverviewPort {
  readonly dialect: 'sqlite' | 'postgres';
  /** Cortex memory items (src/memory); a property, not mixed in, so its names stay its own. */
  readonly memories: MemoryPort;
  close(): Promise<void>;
}
