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

export const sharedSchemas = [errorSchema, sessionSchema, taskSchema, resultSchema];
