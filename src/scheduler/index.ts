export { Scheduler } from './scheduler.js';
export { Batcher } from './batcher.js';
export { compileSchedulerOptions, systemClock } from './options.js';
export type { SchedulerOptions, CompiledSchedulerOptions, Clock } from './options.js';
export type { TaskEvent, TaskEventState, TokenEvent } from './events.js';
export type { AgentDirectory } from './agent-directory.js';
export type {
  QueuePort,
  SchedulerStore,
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
} from './queue-port.js';
export type { LogPort, LogLine } from './log-port.js';
export type { SessionPort } from './session-port.js';
export type { SchedulerTracer, AttemptTrace, ClaimTiming, StoredTaskTrace } from './tracing-port.js';
