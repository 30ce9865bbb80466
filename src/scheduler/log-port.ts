// The task log port: the scheduler writes what runs print, the facade reads it back.

export interface LogLine {
  taskId: string;
  attempt: number;
  line: number;
  stream: 'stdout' | 'stderr' | 'event';
  message: string;
  at: number;
}

export interface LogPort {
  appendLogs(lines: readonly LogLine[]): Promise<void>;
  readLogs(taskId: string, after?: { attempt: number; line: number }): Promise<LogLine[]>;
}
