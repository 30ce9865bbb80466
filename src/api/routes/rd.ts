import type { FastifyInstance } from 'fastify';
import { isWardenError, WardenError } from '../../core/index.js';
import {
  FgwPool,
  findRdKnee,
  parseGraph,
  rateDistortionCurve,
  type FgwPoolOptions,
  type RefinementPoint,
} from '../../rd/index.js';
import type { ApiContext } from '../context.js';
import { errorResponses } from '../schemas.js';

/** Largest graph accepted over HTTP: FGW costs O(n³) per iteration (a complete graph on 400 nodes has 79 800 edges). */
const MAX_NODES = 400;
const MAX_EDGES = 80_000;

const pointsSchema = {
  type: 'array',
  minItems: 3,
  maxItems: 10_000,
  items: {
    type: 'object',
    required: ['distortion', 'variance'],
    additionalProperties: false,
    properties: { distortion: { type: 'number' }, variance: { type: 'number' } },
  },
} as const;

// Only "an object" here: the graph itself is read by parseGraph, the one reader `warden rd fgw` uses
// too, so the API and the CLI accept exactly the same files.
const graphSchema = {
  type: 'object',
  description:
    `An attributed graph in the format of \`warden rd fgw\` files (docs/rd.md): {"structure": n×n matrix} or ` +
    `{"nodes": n, "edges": [[u, v] or [u, v, length], ...]}, optional "features" (n rows) and "weights" ` +
    `(n numbers summing to 1); other keys are ignored. At most ${MAX_NODES} nodes and ${MAX_EDGES} edges.`,
  examples: [
    {
      nodes: 3,
      edges: [
        [0, 1],
        [1, 2],
      ],
      features: [[0.1], [0.9], [0.4]],
    },
  ],
} as const;

const kneeResponse = {
  type: 'object',
  properties: {
    knee: {
      anyOf: [
        { type: 'null' },
        {
          type: 'object',
          properties: {
            index: { type: 'integer' },
            distortion: { type: 'number' },
            variance: { type: 'number' },
            rate: { type: 'number' },
          },
        },
      ],
    },
    curve: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          index: { type: 'integer' },
          distortion: { type: 'number' },
          variance: { type: 'number' },
          rate: { type: 'number' },
        },
      },
    },
  },
} as const;

function knee(points: RefinementPoint[], method?: 'kneedle' | 'menger', sensitivity?: number) {
  const found = findRdKnee(points, {
    ...(method ? { method } : {}),
    ...(sensitivity !== undefined ? { sensitivity } : {}),
  });
  return { knee: found ? { ...found.point, index: found.index } : null, curve: rateDistortionCurve(points) };
}

/**
 * The rate-distortion routes. FGW solves run on a small worker pool (`pool` options), never on the
 * event loop, and need an operator key: they are the API's most expensive requests.
 */
export function rdRoutes(
  app: FastifyInstance,
  { viewer, operator }: ApiContext,
  pool: FgwPoolOptions = {},
): void {
  const fgw = new FgwPool(pool);
  app.addHook('onClose', () => fgw.close());

  app.post<{ Body: { points: RefinementPoint[]; method?: 'kneedle' | 'menger'; sensitivity?: number } }>(
    '/rd/knee',
    {
      onRequest: viewer,
      schema: {
        operationId: 'findKnee',
        tags: ['rate-distortion'],
        summary: 'The knee of a rate-distortion curve: where more refinement stops paying',
        body: {
          type: 'object',
          required: ['points'],
          additionalProperties: false,
          properties: {
            points: pointsSchema,
            method: { type: 'string', enum: ['kneedle', 'menger'] },
            sensitivity: { type: 'number', exclusiveMinimum: 0, maximum: 100 },
          },
        },
        response: { 200: kneeResponse, ...errorResponses },
      },
    },
    async (request) => knee(request.body.points, request.body.method, request.body.sensitivity),
  );

  app.get<{ Querystring: { points: string; method?: 'kneedle' | 'menger' } }>(
    '/rd/knee',
    {
      onRequest: viewer,
      schema: {
        operationId: 'findKneeByQuery',
        tags: ['rate-distortion'],
        summary: 'The same as POST /rd/knee, with the points as a JSON array in ?points=',
        querystring: {
          type: 'object',
          required: ['points'],
          additionalProperties: false,
          properties: {
            points: { type: 'string', maxLength: 100_000 },
            method: { type: 'string', enum: ['kneedle', 'menger'] },
          },
        },
        response: { 200: kneeResponse, ...errorResponses },
      },
    },
    async (request) => {
      let points: unknown;
      try {
        points = JSON.parse(request.query.points);
      } catch {
        throw new WardenError('INVALID_JSON', '?points must be a JSON array of {distortion, variance}');
      }
      if (
        !Array.isArray(points) ||
        points.length < 3 ||
        !points.every(
          (p) =>
            typeof p === 'object' &&
            p !== null &&
            typeof (p as RefinementPoint).distortion === 'number' &&
            typeof (p as RefinementPoint).variance === 'number',
        )
      ) {
        throw new WardenError(
          'RD_INVALID_POINTS',
          '?points must hold at least 3 objects {distortion: number, variance: number}',
        );
      }
      return knee(points as RefinementPoint[], request.query.method);
    },
  );

  app.post<{
    Body: { a: unknown; b: unknown; alpha?: number; epsilon?: number; maxIter?: number };
  }>(
    '/rd/fgw',
    {
      onRequest: operator,
      schema: {
        operationId: 'measureFgw',
        tags: ['rate-distortion'],
        summary: 'Fused Gromov-Wasserstein distortion between two attributed graphs',
        description:
          'Runs on a worker thread with a time budget per request (RD_BUDGET_EXCEEDED, 422); when every ' +
          'worker is busy and the queue is full the answer is 503 RD_BUSY with Retry-After.',
        body: {
          type: 'object',
          required: ['a', 'b'],
          additionalProperties: false,
          properties: {
            a: graphSchema,
            b: graphSchema,
            alpha: { type: 'number', minimum: 0, maximum: 1 },
            epsilon: { type: 'number', minimum: 0 },
            maxIter: { type: 'integer', minimum: 1, maximum: 10_000 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              distance: { type: 'number' },
              alpha: { type: 'number' },
              epsilon: { type: 'number' },
              iterations: { type: 'integer' },
              converged: { type: 'boolean' },
              featureCost: { type: 'number' },
              structureCost: { type: 'number' },
              tieRestarts: { type: 'integer' },
              solver: { type: 'string' },
              coupling: { type: 'array', items: { type: 'array', items: { type: 'number' } } },
            },
          },
          ...errorResponses,
          422: { $ref: 'Error#' },
          503: { $ref: 'Error#' },
        },
      },
    },
    async (request, reply) => {
      const { alpha, epsilon, maxIter } = request.body;
      const limits = { maxNodes: MAX_NODES, maxEdges: MAX_EDGES };
      const a = parseGraph(request.body.a, 'a', limits);
      const b = parseGraph(request.body.b, 'b', limits);
      let json: string;
      try {
        json = await fgw.runJson(a, b, {
          ...(alpha !== undefined ? { alpha } : {}),
          ...(epsilon !== undefined ? { epsilon } : {}),
          ...(maxIter !== undefined ? { maxIter } : {}),
        });
      } catch (error: unknown) {
        if (isWardenError(error) && error.code === 'RD_BUSY') void reply.header('retry-after', '1');
        throw error;
      }
      // Serialised on the worker (the same report as `warden rd fgw --json`); sent as it is.
      return reply.type('application/json; charset=utf-8').send(json);
    },
  );
}
