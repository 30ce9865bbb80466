// Shapes of the task routes' answers (src/api/schemas.ts), as the dashboard reads them.

export const TASK_STATES = [
  'queued',
  'running',
  'succeeded',
  'failed',
  'dead',
  'cancelled',
  'quarantined',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const PRIORITIES = ['critical', 'high', 'normal', 'low', 'background'] as const;

const TERMINAL: ReadonlySet<string> = new Set(['succeeded', 'failed', 'dead', 'cancelled', 'quarantined']);
export const isTerminal = (state: string): boolean => TERMINAL.has(state);

export interface SerializedError {
  code: string;
  message: string;
  retryable?: boolean;
  details?: Record<string, unknown>;
}

/** A task as GET /tasks lists it and GET /events sends it (no input). */
export interface TaskSummary {
  id: string;
  sessionId: string;
  agent: string;
  priority: string;
  state: TaskState;
  attempts: number;
  maxAttempts: number;
  deadline: number | null;
  idempotencyKey: string | null;
  metadata: Record<string, string | number | boolean>;
  createdAt: number;
  updatedAt: number;
  runAfter: number;
  lastError: SerializedError | null;
}

export interface Task extends TaskSummary {
  input: unknown;
}

export interface LlmUsage {
  provider: string;
  model: string;
  promptTokens: number | null;
  completionTokens: number | null;
  costUsd: number | null;
  timeToFirstTokenMs: number | null;
  finishReason: string | null;
}

export interface Usage {
  wallMs: number;
  cpuMs: number;
  peakMemoryBytes: number;
  outputBytes: number;
  llm?: LlmUsage;
}

export interface TaskResult {
  taskId: string;
  status: string;
  output: unknown;
  error: SerializedError | null;
  attempts: number;
  usage: Usage | null;
  outputDigest: string | null;
  finishedAt: number;
}

export interface Session {
  id: string;
  name: string;
  tenant: string;
}

export interface AgentVersion {
  key: string;
  name: string;
  version: string;
  runtime: string;
}

export interface LogLine {
  attempt: number;
  line: number;
  stream: 'stdout' | 'stderr' | 'event';
  message: string;
  at: number;
}

/** A provenance record about the task (GET /tasks/:id/history). */
export interface HistoryRecord {
  seq: number;
  type: string;
  at: number;
  attempt: number | null;
  data: Record<string, unknown>;
}

/** The filters of the list, as the URL query holds them. */
export interface TaskFilters {
  session: string;
  agent: string;
  state: string;
  priority: string;
}
