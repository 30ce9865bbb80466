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

/** A piece of text an LLM agent generated, streamed while the task runs (not stored: the result is). */
export interface TokenEvent {
  taskId: string;
  attempt: number;
  /** 0-based position of this piece in the attempt's stream. */
  index: number;
  text: string;
  at: number;
}
