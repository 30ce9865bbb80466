export { RuntimeRegistry } from './registry.js';
export { InlineRuntime } from './inline/inline-runtime.js';
export type { InlineHandler, HandlerContext } from './inline/inline-runtime.js';
export { ProcessRuntime } from './process/process-runtime.js';
export type { AgentRuntime, PreparedAgent, RunContext, RunOutcome } from './runner.js';
