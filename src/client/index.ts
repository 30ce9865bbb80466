// warden/client: a typed HTTP client of a remote Warden, for Node 20 and browsers (fetch only).
// It imports no server code: only the generated API types and the error codes of src/core.
export { WardenClient, encodeFiles, toBase64 } from './client.js';
export type {
  ApiResponse,
  EventsFilter,
  ExportedBundle,
  TaskEventsOptions,
  WardenClientOptions,
} from './client.js';
export {
  WardenApiError,
  ValidationError,
  UnauthorizedError,
  ForbiddenError,
  NotFoundError,
  ConflictError,
  RateLimitedError,
  ServerError,
  isWardenApiError,
} from './errors.js';
export type { WardenApiErrorOptions } from './errors.js';
export { parseRetryAfter, isRetrySafe } from './retry.js';
export type { RetryOptions } from './retry.js';
export type {
  ApiErrorBody,
  Body,
  CallOptions,
  HttpMethod,
  OperationAt,
  OperationId,
  PathsWithMethod,
  Query,
  RequestOptions,
  ResponseOf,
  Result,
  Schemas,
  Session,
  Task,
  TaskLogData,
  TaskResult,
  TaskStateData,
  TaskStreamEvent,
  TaskSummary,
  TenantEvent,
  Trace,
  TraceSummary,
  components,
  operations,
  paths,
} from './types.js';
export type { ErrorCode } from '../core/errors.js';
