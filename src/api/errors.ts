import type { FastifyError, FastifyInstance } from 'fastify';
import type { WardenError } from '../core/index.js';
import { ERROR_CODES, isWardenError, type ErrorCode } from '../core/index.js';

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

export function errorBody(
  code: ErrorCode | string,
  message: string,
  details?: Record<string, unknown>,
): ErrorBody {
  return {
    error: {
      code,
      message: clip(message, MAX_MESSAGE_CHARS),
      ...(details ? { details: bounded(details, 0) as Record<string, unknown> } : {}),
    },
  };
}

// Errors often quote what was wrong; a 300 KB invalid value must not come back as a 300 KB error.
const MAX_MESSAGE_CHARS = 2000;
const MAX_DETAIL_CHARS = 1000;
const MAX_DETAIL_ITEMS = 100;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

function bounded(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return clip(value, MAX_DETAIL_CHARS);
  if (value === null || typeof value !== 'object' || depth > 8) return value;
  if (Array.isArray(value)) return value.slice(0, MAX_DETAIL_ITEMS).map((v) => bounded(v, depth + 1));
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value).slice(0, MAX_DETAIL_ITEMS)) out[k] = bounded(v, depth + 1);
  return out;
}

/** One JSON error shape for every failure; no stack trace ever reaches a client. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | WardenError | Error, request, reply) => {
    if (isWardenError(err)) {
      return reply.status(err.status).send(errorBody(err.code, err.message, err.details));
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      const issues = fe.validation.map((v) => ({
        path: `${fe.validationContext ?? 'body'}${v.instancePath ? v.instancePath.replace(/\//g, '.') : ''}`,
        message: v.message ?? 'is invalid',
        ...(v.params && 'missingProperty' in v.params ? { field: String(v.params['missingProperty']) } : {}),
        ...(v.params && 'additionalProperty' in v.params
          ? { field: String(v.params['additionalProperty']) }
          : {}),
      }));
      return reply
        .status(400)
        .send(
          errorBody(
            'INVALID_INPUT',
            `Invalid request: ${issues.map((i) => `${i.path}${i.field ? `.${i.field}` : ''} ${i.message}`).join('; ')}`,
            { issues },
          ),
        );
    }
    const status = fe.statusCode ?? 500;
    if (status === 413)
      return reply.status(413).send(errorBody('PAYLOAD_TOO_LARGE', 'The request body is too large'));
    if (status === 429) return reply.status(429).send(errorBody('RATE_LIMITED', fe.message));
    if (status === 415)
      return reply
        .status(415)
        .send(errorBody('INVALID_INPUT', 'Send JSON with Content-Type: application/json'));
    if (status >= 400 && status < 500)
      return reply.status(status).send(errorBody(status === 404 ? 'NOT_FOUND' : 'INVALID_INPUT', fe.message));
    request.log.error({ err }, 'unhandled error');
    return reply.status(500).send(errorBody('INTERNAL', 'Internal error; it has been logged'));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(errorBody('NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}`)),
  );
}

export function httpStatus(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}
