import type { SerializedError, TaskResult } from '../core/index.js';

export type TaskEventState =
  'queued' | 'running' | 'retrying' | 'succeeded' | 'failed' | 'dead' | 'cancelled' | 'quarantined';

/** A task's state change, as streamed to CLI followers and (later) SSE clients. */
export interface TaskEvent {
  taskId: string;
  sessionId: string;
  agent: string;
  state: TaskEventState;
  attempt: number;
  at: number;
  error?: SerializedError;
  retryAt?: number;
  result?: TaskResult;
}
