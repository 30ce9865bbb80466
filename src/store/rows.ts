import type { Generated } from 'kysely';
import {
  priorityName,
  type AgentManifest,
  type SerializedError,
  type Session,
  type Task,
  type TaskResult,
  type TaskState,
  type EdgePlacement,
} from '../core/index.js';
import type { StoredTaskRow } from '../provenance/index.js';
import type { AgentRecord, ApiKeyRecord, DeadLetter, NewTask, Role, TraceFlagRecord } from './store.js';
import type {
  AgentsTable,
  ApiKeysTable,
  DeadLettersTable,
  ResultsTable,
  SessionsTable,
  TasksTable,
  TraceFlagsTable,
} from './schema.js';

// Row <-> domain mapping shared by the SQL adapters. JSON columns are parsed here and nowhere else.

type Row<T> = { [K in keyof T]: T[K] extends Generated<infer U> ? U : T[K] };

export function rowToSession(r: SessionsTable): Session {
  return {
    id: r.id,
    tenant: r.tenant,
    name: r.name,
    maxConcurrency: Number(r.max_concurrency),
    allowNetwork: Boolean(r.allow_network),
    policy: r.policy,
    ...(r.policy_document
      ? { policyDocument: JSON.parse(r.policy_document) as Record<string, unknown> }
      : {}),
    ...(r.placement ? { placement: r.placement as EdgePlacement } : {}),
    createdAt: Number(r.created_at),
  };
}

export function rowToTask(r: Row<TasksTable>): Task {
  return {
    id: r.id,
    sessionId: r.session_id,
    agent: r.agent_key,
    priority: priorityName(Number(r.priority)),
    state: r.state as TaskState,
    attempts: Number(r.attempts),
    maxAttempts: Number(r.max_attempts),
    input: JSON.parse(r.input) as unknown,
    deadline: r.deadline === null ? null : Number(r.deadline),
    idempotencyKey: r.idempotency_key,
    metadata: JSON.parse(r.metadata) as Task['metadata'],
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    runAfter: Number(r.run_after),
    lastError: r.last_error === null ? null : (JSON.parse(r.last_error) as SerializedError),
  };
}

export function rowToResult(r: ResultsTable): TaskResult {
  // Rows hold an output exactly for succeeded and quarantined tasks, as TaskResult's union says.
  return {
    taskId: r.task_id,
    status: r.status as TaskResult['status'],
    output: r.output === null ? null : (JSON.parse(r.output) as unknown),
    error: r.error === null ? null : (JSON.parse(r.error) as SerializedError),
    attempts: Number(r.attempts),
    usage: r.usage === null ? null : (JSON.parse(r.usage) as TaskResult['usage']),
    outputDigest: r.output_digest,
    finishedAt: Number(r.finished_at),
  } as TaskResult;
}

export function rowToAgent(r: AgentsTable): AgentRecord {
  return {
    key: r.key,
    manifest: JSON.parse(r.manifest) as AgentManifest,
    moduleDigest: r.module_digest,
    createdAt: Number(r.created_at),
    tenant: r.tenant,
    shared: Boolean(r.shared),
  };
}

export function rowToDeadLetter(r: DeadLettersTable): DeadLetter {
  return {
    taskId: r.task_id,
    sessionId: r.session_id,
    agentKey: r.agent_key,
    error: JSON.parse(r.error) as SerializedError,
    attempts: Number(r.attempts),
    deadAt: Number(r.dead_at),
  };
}

/** The task a submit just queued, as it is stored (no read back). */
export function newTaskView(t: NewTask): Task {
  return {
    id: t.id,
    sessionId: t.sessionId,
    agent: t.agentKey,
    priority: t.priority,
    state: 'queued',
    attempts: 0,
    maxAttempts: t.maxAttempts,
    input: JSON.parse(t.inputJson) as unknown,
    deadline: t.deadline,
    idempotencyKey: t.idempotencyKey,
    metadata: t.metadata,
    createdAt: t.now,
    updatedAt: t.now,
    runAfter: t.now,
    lastError: null,
  };
}

export function rowToApiKey(r: ApiKeysTable): ApiKeyRecord {
  return {
    id: r.id,
    tenant: r.tenant,
    role: r.role as Role,
    name: r.name,
    createdAt: Number(r.created_at),
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
    installation: r.scope === 'installation',
  };
}

export function rowToFlag(r: TraceFlagsTable): TraceFlagRecord {
  return {
    id: r.id,
    sessionId: r.session_id,
    taskId: r.task_id,
    agentKey: r.agent_key,
    type: r.type,
    severity: Number(r.severity),
    reason: r.reason,
    autoDetected: Boolean(r.auto_detected),
    detector: r.detector,
    stage: r.stage,
    createdAt: Number(r.created_at),
  };
}

/** A task joined with its result row, as the chain readers select it for verification. */
export interface TaskJoinRow {
  id: string;
  state: string;
  /** The result's task_id: null when the task has no result row. */
  result_of: string | null;
  status: string;
  output: string | null;
  output_digest: string | null;
  error: string | null;
  record_seq: number | string | null;
}

export function rowToStoredTask(r: TaskJoinRow): StoredTaskRow {
  return {
    id: r.id,
    state: r.state,
    result:
      r.result_of === null
        ? null
        : {
            taskId: r.id,
            status: r.status,
            outputJson: r.output,
            outputDigest: r.output_digest,
            errorJson: r.error,
            recordSeq: r.record_seq === null ? null : Number(r.record_seq),
          },
  };
}
