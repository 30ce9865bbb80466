export { Scheduler } from './scheduler.js';
export { Batcher } from './batcher.js';
export { compileSchedulerOptions, systemClock } from './options.js';
export type { SchedulerOptions, CompiledSchedulerOptions, Clock } from './options.js';
export type { TaskEvent, TaskEventState, TokenEvent } from './events.js';
export type { AgentDirectory } from './agent-directory.js';
