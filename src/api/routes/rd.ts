import type { FastifyInstance } from 'fastify';
import { WardenError } from '../../core/index.js';
import {
  fgwDistance,
  findRdKnee,
  matrixToRows,
  rateDistortionCurve,
  type AttributedGraph,
  type RefinementPoint,
} from '../../rd/index.js';
import type { ApiContext } from '../context.js';
import { errorResponses } from '../schemas.js';

/** Largest graph accepted over HTTP: FGW costs O(n³) per iteration. */
const MAX_NODES = 400;

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

const matrix = {
  type: 'array',
  maxItems: MAX_NODES,
  items: { type: 'array', maxItems: MAX_NODES, items: { type: 'number' } },
} as const;
const graphSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    structure: matrix,
    nodes: { type: 'integer', minimum: 1, maximum: MAX_NODES },
    edges: {
      type: 'array',
      maxItems: MAX_NODES * MAX_NODES,
      items: { type: 'array', minItems: 2, maxItems: 3, items: { type: 'number' } },
    },
    features: matrix,
    weights: { type: 'array', maxItems: MAX_NODES, items: { type: 'number' } },
  },
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

export function rdRoutes(app: FastifyInstance, { viewer }: ApiContext): void {
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
    Body: { a: AttributedGraph; b: AttributedGraph; alpha?: number; epsilon?: number; maxIter?: number };
  }>(
    '/rd/fgw',
    {
      onRequest: viewer,
      schema: {
        operationId: 'measureFgw',
        tags: ['rate-distortion'],
        summary: 'Fused Gromov-Wasserstein distortion between two attributed graphs',
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
              iterations: { type: 'integer' },
              converged: { type: 'boolean' },
              featureCost: { type: 'number' },
              structureCost: { type: 'number' },
              solver: { type: 'string' },
              coupling: { type: 'array', items: { type: 'array', items: { type: 'number' } } },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { a, b, alpha, epsilon, maxIter } = request.body;
      const r = fgwDistance(a, b, {
        ...(alpha !== undefined ? { alpha } : {}),
        ...(epsilon !== undefined ? { epsilon } : {}),
        ...(maxIter !== undefined ? { maxIter } : {}),
      });
      return {
        distance: r.distance,
        iterations: r.iterations,
        converged: r.converged,
        featureCost: r.featureCost,
        structureCost: r.structureCost,
        solver: r.solver,
        coupling: matrixToRows(r.coupling),
      };
    },
  );
}
