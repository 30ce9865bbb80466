export type { SignedBody, TaskReceipt } from './task-receipt.js';
export { ERROR_CODES, WardenError, isWardenError, coerceError } from './errors.js';
export type { ErrorCode, SerializedError, WardenErrorOptions } from './errors.js';
export { PRIORITIES, priorityLevel, priorityName, parsePriority } from './priority.js';
export type { PriorityName, PriorityLevel } from './priority.js';
export { DEFAULT_DISK_MB, DEFAULT_LIMITS } from './limits.js';
export type { ResourceLimits, ResourceUsage, LlmUsage } from './limits.js';
export { DEFAULT_RETRY, backoffCeilingMs, backoffDelayMs } from './retry.js';
export type { RetryPolicy } from './retry.js';
export {
  DEFAULT_BREAKER,
  CLOSED_BREAKER,
  onBreakerFailure,
  onBreakerSuccess,
  applyBreakerOutcomes,
  sameBreaker,
  breakerAdmission,
  breakerStatus,
} from './circuit-breaker.js';
export type {
  BreakerOutcome,
  BreakerPolicy,
  BreakerSnapshot,
  BreakerState,
  BreakerStatus,
} from './circuit-breaker.js';
export { canonicalJson } from './canonical-json.js';
export {
  DEFAULT_API_KEY_ENV,
  TENANT_SECRETS_ENV,
  assertTenantSecrets,
  secretNames,
  secretValues,
} from './tenant-secrets.js';
export {
  RUNTIMES,
  EDGE_PLACEMENTS,
  DEFAULT_TENANT,
  manifestSchema,
  parseMemoryPolicy,
  parseRollout,
  parseManifest,
  agentKey,
  isSemver,
} from './manifest.js';
export { MAX_JSON_DEPTH, assertJsonValue, jsonValueProblem } from './json-value.js';
export type { JsonValueProblem } from './json-value.js';
export { parseYamlDocument } from './yaml-document.js';
export type { DocumentIssue } from './yaml-document.js';
export type {
  AgentManifest,
  EdgePlacement,
  ManifestIssue,
  MemoryInput,
  MemoryPolicy,
  RolloutInput,
  RolloutPolicy,
  Runtime,
} from './manifest.js';
export { DEFAULT_SESSION, sessionOptionsSchema, validateSessionOptions, invalid } from './session.js';
export type { Session, SessionOptions } from './session.js';
export {
  TASK_STATES,
  TERMINAL_STATES,
  DEFAULT_MAX_INPUT_BYTES,
  isTerminal,
  submitSchema,
  validateSubmit,
} from './task.js';
export type { Task, TaskState, TaskResult, ResultStatus, SubmitTask, ValidatedSubmit } from './task.js';
export {
  LLM_PROVIDERS,
  llmModelSchema,
  compilePrompt,
  compileTemplate,
  normalizePrompt,
} from './llm-spec.js';
export type {
  LlmProvider,
  LlmModelSpec,
  PromptSpec,
  RenderedPrompt,
  CompiledPrompt,
  CompiledTemplate,
} from './llm-spec.js';
export { compileJsonSchema, describeSchemaErrors } from './json-schema.js';
