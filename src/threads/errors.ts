import { ERROR_CODES, WardenError, coerceError, type ErrorCode } from '../core/index.js';

/** A thrown value as it crosses to another thread: structured clone keeps no class, so code, message, details. */
export interface ThreadFailure {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** What a worker posts for `err`: a WardenError as it is, anything else under `fallback`. */
export function toThreadFailure(err: unknown, fallback: ErrorCode): ThreadFailure {
  const e = coerceError(err, fallback);
  return { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) };
}

/** The WardenError a failure posted by a worker stands for (an unknown code becomes INTERNAL). */
export function fromThreadFailure(failure: ThreadFailure): WardenError {
  const code = (failure.code in ERROR_CODES ? failure.code : 'INTERNAL') as ErrorCode;
  return new WardenError(code, failure.message, failure.details ? { details: failure.details } : {});
}
