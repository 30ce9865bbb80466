export { RuntimeRegistry } from './registry.js';
export type { RuntimeRegistryOptions } from './registry.js';
export { InlineRuntime } from './inline/inline-runtime.js';
export type { InlineHandler, HandlerContext } from './inline/inline-runtime.js';
export { ProcessRuntime } from './process/process-runtime.js';
export type { ProcessRuntimeOptions } from './process/process-runtime.js';
export type { SandboxOptions } from './process/sandbox-config.js';
export { AGENT_PATH } from './process/process-command.js';
export { EgressProxy } from './process/egress-proxy.js';
export { WasmRuntime } from './wasm/wasm-runtime.js';
export type { WasmRuntimeOptions } from './wasm/wasm-runtime.js';
export type {
  AgentRuntime,
  AgentHealth,
  PreparedAgent,
  RunContext,
  RunOutcome,
  RunTrace,
  ModelCallStart,
  ModelCallTrace,
} from './runner.js';
export { traceEnv } from './runner.js';
export {
  LlmRuntime,
  loadPriceTable,
  costUsd,
  loadNodeLlamaCpp,
  checkGgufHeader,
  providerMessage,
} from './llm/index.js';
export { timedHealth } from './health.js';
export type { LlmRuntimeOptions, PriceTable, ModelPrice, LocalModelOptions } from './llm/index.js';
