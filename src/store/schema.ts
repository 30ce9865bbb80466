import type { Generated } from 'kysely';

/** Kysely table types. Times are epoch milliseconds (bigint columns); JSON is stored as text. */
export interface SessionsTable {
  id: string;
  tenant: string;
  name: string;
  max_concurrency: number;
  allow_network: number;
  policy: string;
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

export interface Database {
  sessions: SessionsTable;
  agents: AgentsTable;
  tasks: TasksTable;
  results: ResultsTable;
  dead_letters: DeadLettersTable;
  provenance: ProvenanceTable;
  provenance_heads: ProvenanceHeadsTable;
  circuit_breakers: CircuitBreakersTable;
  task_logs: TaskLogsTable;
}
