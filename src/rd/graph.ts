import { WardenError } from '../core/index.js';
import { fusedGromovWasserstein } from './fgw.js';
import type { FgwOptions } from './options.js';
import type { FgwResult } from './result.js';

/** An undirected edge [u, v] or [u, v, length] (length > 0, default 1). */
export type Edge = readonly [number, number] | readonly [number, number, number];

/**
 * An attributed graph as Warden stores and the CLI reads it. Give either `structure` (an n×n
 * symmetric matrix, e.g. distances) or `nodes` + `edges` (the structure is then the matrix of
 * shortest-path lengths).
 */
export interface AttributedGraph {
  structure?: readonly (readonly number[])[];
  nodes?: number;
  edges?: readonly Edge[];
  /** n×d node features; both graphs must use the same d. */
  features?: readonly (readonly number[])[];
  /** Node weights (≥ 0, summing to 1). @default uniform */
  weights?: readonly number[];
}

/** All-pairs shortest-path lengths (Floyd-Warshall) of an undirected graph; throws if it is disconnected. */
export function shortestPathMatrix(nodes: number, edges: readonly Edge[]): number[][] {
  if (!(Number.isInteger(nodes) && nodes >= 1))
    invalidGraph(`nodes must be an integer ≥ 1 (got ${String(nodes)})`);
  if (!Array.isArray(edges)) invalidGraph('edges must be an array of [u, v] or [u, v, length]');
  const d = new Float64Array(nodes * nodes).fill(Infinity);
  for (let i = 0; i < nodes; i++) d[i * nodes + i] = 0;
  edges.forEach((e, k) => {
    if (!Array.isArray(e) || (e.length !== 2 && e.length !== 3))
      invalidGraph(`edge ${k} must be [u, v] or [u, v, length]`);
    const [u, v] = e;
    const w = e[2] ?? 1;
    if (!Number.isInteger(u) || !Number.isInteger(v) || u < 0 || v < 0 || u >= nodes || v >= nodes) {
      invalidGraph(`edge ${k} names a node outside 0..${nodes - 1}`);
    }
    if (!(typeof w === 'number' && Number.isFinite(w) && w > 0))
      invalidGraph(`edge ${k} length must be a finite number > 0`);
    if (w < d[u * nodes + v]!) {
      d[u * nodes + v] = w;
      d[v * nodes + u] = w;
    }
  });
  for (let k = 0; k < nodes; k++) {
    for (let i = 0; i < nodes; i++) {
      const dik = d[i * nodes + k]!;
      if (dik === Infinity) continue;
      for (let j = 0; j < nodes; j++) {
        const via = dik + d[k * nodes + j]!;
        if (via < d[i * nodes + j]!) d[i * nodes + j] = via;
      }
    }
  }
  const out: number[][] = [];
  for (let i = 0; i < nodes; i++) {
    const row = Array.from(d.subarray(i * nodes, (i + 1) * nodes));
    const j = row.indexOf(Infinity);
    if (j >= 0) invalidGraph(`the graph is disconnected: no path from node ${i} to node ${j}`);
    out.push(row);
  }
  return out;
}

/** The structure matrix of a graph: `structure` as given, or shortest paths over `edges`. */
export function structureOf(graph: AttributedGraph, name = 'graph'): readonly (readonly number[])[] {
  if (typeof graph !== 'object' || graph === null) invalidGraph(`${name} must be an object`);
  if (graph.structure !== undefined && graph.edges !== undefined)
    invalidGraph(`${name}: give structure or edges, not both`);
  if (graph.structure !== undefined) return graph.structure;
  if (graph.edges !== undefined) return shortestPathMatrix(graph.nodes ?? Number.NaN, graph.edges);
  invalidGraph(`${name} needs a structure matrix or nodes + edges`);
}

/**
 * FGW between two attributed graphs; feature cost M = squared Euclidean distance between node
 * features (zero when neither graph has features).
 *
 * @example
 * const a = { nodes: 3, edges: [[0, 1], [1, 2]], features: [[0], [1], [2]] } as const;
 * fgwDistance(a, a).distance; // ≈ 0
 */
export function fgwDistance(a: AttributedGraph, b: AttributedGraph, options: FgwOptions = {}): FgwResult {
  const structure1 = structureOf(a, 'first graph');
  const structure2 = structureOf(b, 'second graph');
  if ((a.features === undefined) !== (b.features === undefined)) {
    invalidGraph('either both graphs have features or neither does');
  }
  return fusedGromovWasserstein(
    {
      structure1,
      structure2,
      ...(a.features && b.features ? { features1: a.features, features2: b.features } : {}),
      ...(a.weights ? { weights1: a.weights } : {}),
      ...(b.weights ? { weights2: b.weights } : {}),
    },
    options,
  );
}

function invalidGraph(message: string): never {
  throw new WardenError('RD_INVALID_GRAPH', message);
}
