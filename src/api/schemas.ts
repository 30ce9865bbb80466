// JSON Schemas of the API: fastify validates requests with them, serialises responses with them, and
// @fastify/swagger publishes them as the OpenAPI 3.1 document.

const anyJson = {};
const serializedError = {
  type: 'object',
  properties: {
    code: { type: 'string' },
    message: { type: 'string' },
    retryable: { type: 'boolean' },
    details: { type: 'object', additionalProperties: true },
  },
} as const;

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        details: { type: 'object', additionalProperties: true },
      },
    },
  },
} as const;

export const sessionSchema = {
  $id: 'Session',
  type: 'object',
  properties: {
    id: { type: 'string' },
    tenant: { type: 'string' },
    name: { type: 'string' },
    maxConcurrency: { type: 'integer' },
    allowNetwork: { type: 'boolean' },
    policy: { type: 'string' },
    placement: { type: 'string', enum: ['required', 'allowed', 'never'] },
    createdAt: { type: 'integer' },
  },
} as const;

export const taskSchema = {
  $id: 'Task',
  type: 'object',
  properties: {
    id: { type: 'string' },
    sessionId: { type: 'string' },
    agent: { type: 'string' },
    priority: { type: 'string' },
    state: { type: 'string' },
    attempts: { type: 'integer' },
    maxAttempts: { type: 'integer' },
    input: anyJson,
    deadline: { type: ['integer', 'null'] },
    idempotencyKey: { type: ['string', 'null'] },
    metadata: { type: 'object', additionalProperties: true },
    createdAt: { type: 'integer' },
    updatedAt: { type: 'integer' },
    runAfter: { type: 'integer' },
    lastError: { anyOf: [{ type: 'null' }, serializedError] },
    deduplicated: { type: 'boolean' },
  },
} as const;

const taskProperties = taskSchema.properties;
const { input: _input, deduplicated: _deduplicated, ...taskSummaryProperties } = taskProperties;

/** A task without its input, as GET /tasks lists it (GET /tasks/:id has the input and the result). */
export const taskSummarySchema = {
  $id: 'TaskSummary',
  type: 'object',
  properties: taskSummaryProperties,
} as const;

/** A stored trace with its document. */
export const traceSchema = {
  $id: 'Trace',
  type: 'object',
  properties: {
    id: { type: 'string' },
    sessionId: { type: 'string' },
    taskId: { type: ['string', 'null'] },
    data: anyJson,
    digest: { type: 'string', description: 'SHA-256 (hex) of the canonical JSON of data' },
    createdAt: { type: 'integer' },
  },
} as const;

/** A trace without its document, as GET /traces lists it. */
export const traceSummarySchema = {
  $id: 'TraceSummary',
  type: 'object',
  properties: {
    id: { type: 'string' },
    sessionId: { type: 'string' },
    taskId: { type: ['string', 'null'] },
    digest: { type: 'string' },
    createdAt: { type: 'integer' },
  },
} as const;

/** Query parameters of a page: `limit` (1-1000) and the `cursor` a previous page returned. */
export const pageQuery = {
  limit: {
    type: 'string',
    pattern: '^(?:[1-9][0-9]{0,2}|1000)$',
    description: 'items per page, 1-1000 (default 100)',
  },
  cursor: {
    type: 'string',
    minLength: 1,
    maxLength: 512,
    description: 'nextCursor of the previous page; omit for the first page',
  },
} as const;

/** `nextCursor`: pass it as `cursor` for the next page; null on the last page. */
export const nextCursor = { type: ['string', 'null'] } as const;

export const resultSchema = {
  $id: 'TaskResult',
  type: 'object',
  properties: {
    taskId: { type: 'string' },
    status: { type: 'string' },
    output: anyJson,
    error: { anyOf: [{ type: 'null' }, serializedError] },
    attempts: { type: 'integer' },
    usage: {
      anyOf: [
        { type: 'null' },
        {
          type: 'object',
          properties: {
            wallMs: { type: 'number' },
            cpuMs: { type: 'number' },
            peakMemoryBytes: { type: 'number' },
            outputBytes: { type: 'number' },
          },
        },
      ],
    },
    outputDigest: { type: ['string', 'null'] },
    finishedAt: { type: 'integer' },
  },
} as const;

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

export const errorResponses = {
  400: { $ref: 'Error#' },
  401: { $ref: 'Error#' },
  403: { $ref: 'Error#' },
  404: { $ref: 'Error#' },
} as const;

export const sharedSchemas = [
  errorSchema,
  sessionSchema,
  taskSchema,
  taskSummarySchema,
  resultSchema,
  traceSchema,
  traceSummarySchema,
];
