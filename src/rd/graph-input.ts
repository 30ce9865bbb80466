import { WardenError } from '../core/index.js';
import type { AttributedGraph, Edge } from './graph.js';

/** Size limits a caller (the HTTP API) puts on a graph; absent = unlimited. */
export interface GraphLimits {
  /** Largest node count: `nodes`, or the rows of `structure`. */
  maxNodes?: number;
  /** Longest `edges` list. */
  maxEdges?: number;
}

/**
 * Reads one attributed graph from parsed JSON: the single format of `warden rd fgw` files and of
 * `POST /rd/fgw` bodies. Either `structure` (n×n matrix) or `nodes` + `edges`, optional `features`
 * and `weights`; other keys (a `"description"`, say) are ignored. Checks shapes, types and `limits`
 * here; values (finiteness, symmetry, node indices, connectivity, weights summing to 1) are checked by
 * the solver, the same way for both callers.
 *
 * @example
 * const a = parseGraph(JSON.parse(readFileSync('examples/rd/plan-a.json', 'utf8')), 'plan-a.json');
 * @throws WardenError RD_INVALID_GRAPH (with the graph's `name` in the message)
 */
export function parseGraph(value: unknown, name = 'graph', limits: GraphLimits = {}): AttributedGraph {
  if (!isObject(value)) fail(name, 'must be a JSON object');
  const { structure, nodes, edges, features, weights } = value;
  const maxNodes = limits.maxNodes ?? Infinity;
  const graph: { -readonly [K in keyof AttributedGraph]: AttributedGraph[K] } = {};
  if (structure !== undefined && edges !== undefined) fail(name, 'give structure or edges, not both');
  if (structure !== undefined) {
    if (!Array.isArray(structure)) fail(name, 'structure must be an array of rows');
    if (structure.length > maxNodes) tooLarge(name, `${structure.length} nodes`, `${maxNodes} nodes`);
    graph.structure = numberRows(structure, name, 'structure');
    if (nodes !== undefined && nodes !== structure.length)
      fail(name, `nodes is ${String(nodes)} but structure has ${structure.length} rows`);
  } else if (edges !== undefined) {
    if (!(typeof nodes === 'number' && Number.isInteger(nodes) && nodes >= 1))
      fail(name, `nodes must be an integer ≥ 1 (got ${JSON.stringify(nodes) ?? 'nothing'})`);
    if (nodes > maxNodes) tooLarge(name, `${nodes} nodes`, `${maxNodes} nodes`);
    if (!Array.isArray(edges)) fail(name, 'edges must be an array of [u, v] or [u, v, length]');
    const maxEdges = limits.maxEdges ?? Infinity;
    if (edges.length > maxEdges) tooLarge(name, `${edges.length} edges`, `${maxEdges} edges`);
    edges.forEach((e: unknown, k) => {
      if (!Array.isArray(e) || (e.length !== 2 && e.length !== 3) || !e.every(isNumber))
        fail(name, `edge ${k} must be [u, v] or [u, v, length] (numbers)`);
    });
    graph.nodes = nodes;
    graph.edges = edges as Edge[];
  } else {
    fail(name, 'needs a structure matrix or nodes + edges');
  }
  if (features !== undefined) {
    if (!Array.isArray(features)) fail(name, 'features must be an array of rows');
    graph.features = numberRows(features, name, 'features');
  }
  if (weights !== undefined) {
    if (!Array.isArray(weights) || !weights.every(isNumber))
      fail(name, 'weights must be an array of numbers');
    graph.weights = weights;
  }
  return graph;
}

function numberRows(rows: unknown[], name: string, field: string): number[][] {
  rows.forEach((row, i) => {
    if (!Array.isArray(row) || !row.every(isNumber)) fail(name, `${field}[${i}] must be an array of numbers`);
  });
  return rows as number[][];
}

function isNumber(v: unknown): v is number {
  return typeof v === 'number';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(name: string, message: string): never {
  throw new WardenError('RD_INVALID_GRAPH', `${name}: ${message}`, { details: { graph: name } });
}

function tooLarge(name: string, got: string, max: string): never {
  fail(
    name,
    `has ${got}; this server accepts at most ${max} per graph (run \`warden rd fgw\` locally for larger graphs)`,
  );
}
