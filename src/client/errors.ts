// The errors WardenClient throws: the server's coded error (`{ error: { code, message, details } }`) as a
// class per family, so `catch (e) { if (e instanceof NotFoundError) ... }` reads like the local library.
import { WardenError, type ErrorCode } from '../core/errors.js';

export interface WardenApiErrorOptions {
  status: number;
  details?: Record<string, unknown> | undefined;
  /** The server's x-request-id: quote it when reporting a problem (the server logs it). */
  requestId?: string | undefined;
  /** How long the server asked to wait (Retry-After), in milliseconds. */
  retryAfterMs?: number | undefined;
  cause?: unknown;
}

/**
 * A coded error the Warden API answered (or, for SERVER_UNREACHABLE and REQUEST_TIMEOUT, the client's own
 * failure to get an answer). It is a WardenError: `code` is the stable code of docs/errors.md, `status` the
 * HTTP status. A newer server may send a code this client does not list; it is passed through as is.
 * @example
 * try { await client.getTask(id) } catch (e) { if (e instanceof NotFoundError) console.log(e.code, e.requestId) }
 */
export class WardenApiError extends WardenError {
  /** The HTTP status the server answered (0 when there was no answer). */
  readonly httpStatus: number;
  readonly requestId: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options: WardenApiErrorOptions) {
    super(code, message, {
      ...(options.details ? { details: options.details } : {}),
      ...(options.cause !== undefined ? { cause: options.cause } : {}),
      // The code may be one this client does not know: retryability comes from the status then.
      retryable: [429, 502, 503, 504].includes(options.status) || options.status === 0,
    });
    Object.defineProperty(this, 'name', { value: new.target.name });
    this.httpStatus = options.status;
    this.requestId = options.requestId;
    this.retryAfterMs = options.retryAfterMs;
  }

  override get status(): number {
    return this.httpStatus;
  }

  override toJSON() {
    return {
      ...super.toJSON(),
      status: this.httpStatus,
      ...(this.requestId ? { requestId: this.requestId } : {}),
    };
  }
}

/** 400: the request failed validation (INVALID_INPUT, INVALID_MANIFEST, ...); details.issues lists why. */
export class ValidationError extends WardenApiError {}
/** 401: no API key, or an unknown or revoked one. */
export class UnauthorizedError extends WardenApiError {}
/** 403: the key's role (or tenant) does not allow this operation. */
export class ForbiddenError extends WardenApiError {}
/** 404: no such route, or no such resource in the key's tenant (TASK_NOT_FOUND, SESSION_NOT_FOUND, ...). */
export class NotFoundError extends WardenApiError {}
/** 409: the operation conflicts with the current state (AGENT_VERSION_CONFLICT, INVALID_STATE, ...). */
export class ConflictError extends WardenApiError {}
/** 429: too many requests for this key; `retryAfterMs` says when to come back. */
export class RateLimitedError extends WardenApiError {}
/** 5xx, and the client's own SERVER_UNREACHABLE and REQUEST_TIMEOUT: the server could not answer. */
export class ServerError extends WardenApiError {}

export function isWardenApiError(value: unknown): value is WardenApiError {
  return value instanceof WardenApiError;
}

/** The code for a status whose body carried none (a proxy's HTML page, an empty 503). */
function codeForStatus(status: number): ErrorCode {
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'FORBIDDEN';
  if (status === 404) return 'NOT_FOUND';
  if (status === 413) return 'PAYLOAD_TOO_LARGE';
  if (status === 429) return 'RATE_LIMITED';
  if (status === 502 || status === 503) return 'SERVER_UNREACHABLE';
  if (status === 504) return 'REQUEST_TIMEOUT';
  if (status >= 400 && status < 500) return 'INVALID_INPUT';
  return 'INTERNAL';
}

function classFor(status: number): typeof WardenApiError {
  if (status === 400 || status === 413 || status === 422) return ValidationError;
  if (status === 401) return UnauthorizedError;
  if (status === 403) return ForbiddenError;
  if (status === 404) return NotFoundError;
  if (status === 409) return ConflictError;
  if (status === 429) return RateLimitedError;
  if (status >= 500 || status === 0) return ServerError;
  return WardenApiError;
}

/** The error of a non-2xx response, from its body (`{ error: { code, message, details } }`) when it has one. */
export function apiErrorOf(
  status: number,
  body: unknown,
  meta: { requestId?: string | undefined; retryAfterMs?: number | undefined; method: string; path: string },
): WardenApiError {
  const e =
    typeof body === 'object' && body !== null && 'error' in body
      ? (body as { error: { code?: unknown; message?: unknown; details?: unknown } }).error
      : undefined;
  const code = typeof e?.code === 'string' ? (e.code as ErrorCode) : codeForStatus(status);
  const message =
    typeof e?.message === 'string'
      ? e.message
      : `${meta.method} ${meta.path} answered HTTP ${status}${typeof body === 'string' && body ? `: ${body.slice(0, 200)}` : ''}`;
  const details =
    typeof e?.details === 'object' && e.details !== null ? (e.details as Record<string, unknown>) : undefined;
  const Class = classFor(status);
  return new Class(code, message, {
    status,
    details,
    requestId: meta.requestId,
    retryAfterMs: meta.retryAfterMs,
  });
}

/** The client's own failure: no answer (connection refused, DNS, TLS, a dropped connection) or a timeout. */
export function transportError(
  code: 'SERVER_UNREACHABLE' | 'REQUEST_TIMEOUT',
  message: string,
  cause: unknown,
): WardenApiError {
  return new ServerError(code, message, { status: 0, cause });
}
