// Span names and attribute keys of Warden's traces (docs/telemetry.md has the table). The GenAI keys are the
// OpenTelemetry semantic conventions' (gen_ai.*, still "Development" status): copied from
// @opentelemetry/semantic-conventions/incubating (1.45) as its README advises for unstable names, so the
// runtime never loads the large incubating module; test/telemetry/tracing.test.ts checks they match.

import {
  ATTR_ERROR_TYPE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
} from '@opentelemetry/semantic-conventions';

export const SPAN = {
  submit: 'warden.submit',
  queue: 'warden.queue',
  claim: 'warden.claim',
  attempt: 'warden.attempt',
  screen: 'warden.governance.screen',
  append: 'warden.provenance.append',
} as const;

/** Warden's own attributes (the `warden.` namespace). */
export const ATTR = {
  taskId: 'warden.task.id',
  sessionId: 'warden.session.id',
  sessionName: 'warden.session.name',
  tenant: 'warden.tenant',
  agent: 'warden.agent',
  priority: 'warden.task.priority',
  deduplicated: 'warden.task.deduplicated',
  attempt: 'warden.task.attempt',
  maxAttempts: 'warden.task.max_attempts',
  worker: 'warden.worker.id',
  runtime: 'warden.runtime',
  sandbox: 'warden.sandbox',
  outcome: 'warden.attempt.outcome',
  exitCode: 'warden.exit_code',
  wallMs: 'warden.attempt.wall_ms',
  claimVia: 'warden.claim.via',
  claimBatch: 'warden.claim.batch_size',
  stage: 'warden.governance.stage',
  flags: 'warden.governance.flags',
  action: 'warden.governance.action',
  record: 'warden.provenance.record',
  applied: 'warden.provenance.applied',
  timeToFirstToken: 'warden.llm.time_to_first_token_ms',
} as const;

/** Stable general conventions (loaded with the rest of tracing, only while it is on). */
export { ATTR_ERROR_TYPE, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT, ATTR_SERVICE_NAME };

/** GenAI semantic conventions (incubating): ATTR_GEN_AI_* of @opentelemetry/semantic-conventions/incubating. */
export const GEN_AI = {
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  /** Deprecated for gen_ai.provider.name in semantic conventions 1.37; still read by many backends. */
  system: 'gen_ai.system',
  requestModel: 'gen_ai.request.model',
  requestMaxTokens: 'gen_ai.request.max_tokens',
  requestTemperature: 'gen_ai.request.temperature',
  requestTopP: 'gen_ai.request.top_p',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  finishReasons: 'gen_ai.response.finish_reasons',
} as const;

/** gen_ai.operation.name of a chat completion (GEN_AI_OPERATION_NAME_VALUE_CHAT). */
export const GEN_AI_CHAT = 'chat';

/** Warden's provider names as gen_ai.provider.name values (well-known ones where the conventions have them). */
export function genAiProvider(provider: string): string {
  return provider === 'llama' ? 'llama.cpp' : provider;
}
