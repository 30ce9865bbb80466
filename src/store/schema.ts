import type { Generated } from 'kysely';

/** Kysely table types. Times are epoch milliseconds (bigint columns); JSON is stored as text. */
export interface SessionsTable {
  id: string;
  tenant: string;
  name: string;
  max_concurrency: number;
  allow_network: number;
  policy: string;
  /** The policy as resolved at creation (JSON); null for sessions created before it was stored. */
  policy_document: string | null;
  /** Where the session's tasks may run (edge nodes); null: as each agent says. */
  placement: string | null;
  created_at: number;
}

export interface AgentsTable {
  key: string;
  name: string;
  version: string;
  runtime: string;
  concurrency: number;
  manifest: string;
  module_digest: string | null;
  created_at: number;
  /** Migration 0005: the tenant that registered it; shared (1) versions are visible to every tenant. */
  tenant: string;
  shared: number;
}

export interface TasksTable {
  id: string;
  session_id: string;
  agent_key: string;
  priority: number;
  state: string;
  attempts: number;
  max_attempts: number;
  run_after: number;
  lease_owner: string | null;
  lease_until: number | null;
  idempotency_key: string | null;
  input: string;
  deadline: number | null;
  timeout_ms: number | null;
  metadata: string;
  last_error: string | null;
  cancel_requested: Generated<number>;
  created_at: number;
  updated_at: number;
}

export interface ResultsTable {
  task_id: string;
  status: string;
  output: string | null;
  error: string | null;
  attempts: number;
  usage: string | null;
  output_digest: string | null;
  finished_at: number;
  /** seq of the provenance record that commits to this row (migration 0005). */
  record_seq: number | null;
}

export interface DeadLettersTable {
  task_id: string;
  session_id: string;
  agent_key: string;
  error: string;
  attempts: number;
  dead_at: number;
}

export interface ProvenanceTable {
  session_id: string;
  seq: number;
  prev_hash: string;
  hash: string;
  record: string;
}

export interface ProvenanceHeadsTable {
  session_id: string;
  seq: number;
  hash: string;
}

/** The latest signed Merkle tree head of a session, and the tree's frontier at that size (migration 0002). */
export interface TreeHeadsTable {
  session_id: string;
  tree_size: number;
  root_hash: string;
  chain_hash: string;
  frontier: string;
  signed_at: number;
  key_id: string;
  signature: string;
}

export interface CircuitBreakersTable {
  agent_key: string;
  state: string;
  consecutive_failures: number;
  opened_at: number | null;
  updated_at: number;
}

export interface TaskLogsTable {
  task_id: string;
  attempt: number;
  line: number;
  stream: string;
  message: string;
  at: number;
}

export interface ApiKeysTable {
  id: string;
  tenant: string;
  role: string;
  name: string;
  key_hash: string;
  created_at: number;
  revoked_at: number | null;
  /** Migration 0005: 'tenant', or 'installation' for installation-wide admin keys. */
  scope: string;
}

export interface TracesTable {
  id: string;
  session_id: string;
  task_id: string | null;
  data: string;
  digest: string;
  created_at: number;
}

export interface TraceFlagsTable {
  id: string;
  session_id: string;
  task_id: string | null;
  agent_key: string | null;
  type: string;
  severity: number;
  reason: string;
  auto_detected: number;
  detector: string | null;
  stage: string;
  created_at: number;
}

/** Migration 0014: a user's score of a finished task (KPIs). */
export interface TaskFeedbackTable {
  task_id: string;
  agent_key: string;
  score: number;
  comment: string | null;
  created_at: number;
}

/** Migration 0014: Cortex memory items. */
export interface MemoriesTable {
  key: Generated<number>;
  id: string;
  tenant: string;
  session_id: string;
  agent: string | null;
  text: string;
  metadata: string;
  embedder: string;
  embedding: Uint8Array;
  task_id: string | null;
  created_at: number;
  expires_at: number | null;
}

/** Migration 0014: canary rollouts between two versions of one agent name. */
export interface AgentRolloutsTable {
  tenant: string;
  name: string;
  canary_key: string;
  stable_key: string;
  state: string;
  share: number;
  started_at: number;
  decided_at: number | null;
  reason: string | null;
}

export interface Database {
  sessions: SessionsTable;
  agents: AgentsTable;
  tasks: TasksTable;
  results: ResultsTable;
  dead_letters: DeadLettersTable;
  provenance: ProvenanceTable;
  provenance_heads: ProvenanceHeadsTable;
  tree_heads: TreeHeadsTable;
  circuit_breakers: CircuitBreakersTable;
  task_logs: TaskLogsTable;
  trace_flags: TraceFlagsTable;
  api_keys: ApiKeysTable;
  traces: TracesTable;
  task_feedback: TaskFeedbackTable;
  memories: MemoriesTable;
  agent_rollouts: AgentRolloutsTable;
}
