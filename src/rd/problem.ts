import { WardenError } from '../core/index.js';
import { isMatrix, matrixFromRows, sqeuclidean } from './matrix.js';
import type { Matrix, MatrixInput, VectorInput } from './matrix.js';

/** The inputs of one FGW problem between a source graph (n nodes) and a target graph (m nodes). */
export interface FgwProblem {
  /** n×n symmetric structure matrix of the source graph (e.g. shortest-path distances). */
  structure1: MatrixInput;
  /** m×m symmetric structure matrix of the target graph. */
  structure2: MatrixInput;
  /** n×m feature cost M. When absent it is computed from the features, or zero without them. */
  cost?: MatrixInput;
  /** n×d node features of the source graph; M = squared Euclidean distances (POT's `ot.dist`). */
  features1?: MatrixInput;
  /** m×d node features of the target graph. */
  features2?: MatrixInput;
  /** Source node weights p (≥ 0, summing to 1). @default uniform */
  weights1?: VectorInput;
  /** Target node weights q (≥ 0, summing to 1). @default uniform */
  weights2?: VectorInput;
}

/** A validated problem in flat Float64Arrays. */
export interface CompiledProblem {
  readonly n: number;
  readonly m: number;
  readonly c1: Float64Array;
  readonly c2: Float64Array;
  readonly cost: Float64Array;
  readonly p: Float64Array;
  readonly q: Float64Array;
}

/** Largest |Σw − 1| accepted for node weights. */
export const WEIGHT_SUM_TOLERANCE = 1e-8;
/** Symmetry tolerance, relative to max(1, |entry|) (POT's own check uses atol 1e-10). */
const SYMMETRY_TOLERANCE = 1e-10;

/** Validates and flattens an FGW problem; throws `RD_INVALID_GRAPH` or `RD_INVALID_WEIGHTS`. */
export function compileProblem(problem: FgwProblem): CompiledProblem {
  const c1 = structureMatrix(problem.structure1, 'structure1');
  const c2 = structureMatrix(problem.structure2, 'structure2');
  const n = c1.rows;
  const m = c2.rows;
  let cost: Matrix;
  if (problem.cost !== undefined) {
    if (problem.features1 !== undefined || problem.features2 !== undefined) {
      graphError('give either cost or features1/features2, not both', {});
    }
    cost = toMatrix(problem.cost, 'cost');
    if (cost.rows !== n || cost.cols !== m) {
      graphError(`cost must be ${n}×${m} (got ${cost.rows}×${cost.cols})`, { field: 'cost' });
    }
  } else if (problem.features1 !== undefined || problem.features2 !== undefined) {
    if (problem.features1 === undefined || problem.features2 === undefined) {
      graphError('features1 and features2 must be given together', {});
    }
    const f1 = toMatrix(problem.features1, 'features1');
    const f2 = toMatrix(problem.features2, 'features2');
    if (f1.rows !== n)
      graphError(`features1 has ${f1.rows} rows but structure1 has ${n} nodes`, { field: 'features1' });
    if (f2.rows !== m)
      graphError(`features2 has ${f2.rows} rows but structure2 has ${m} nodes`, { field: 'features2' });
    if (f1.cols !== f2.cols) {
      graphError(`feature dimensions differ: ${f1.cols} (features1) vs ${f2.cols} (features2)`, {
        field: 'features2',
      });
    }
    cost = sqeuclidean(f1, f2);
  } else {
    cost = { rows: n, cols: m, data: new Float64Array(n * m) };
  }
  const p = weights(problem.weights1, n, 'weights1');
  const q = weights(problem.weights2, m, 'weights2');
  return { n, m, c1: c1.data, c2: c2.data, cost: cost.data, p, q };
}

function toMatrix(input: MatrixInput, field: string): Matrix {
  let mat: Matrix;
  if (isMatrix(input)) {
    if (input.data.length !== input.rows * input.cols)
      graphError(`${field}: data length is not rows × cols`, { field });
    mat = input;
  } else if (Array.isArray(input)) {
    const rows = input as readonly (readonly number[])[];
    const width = rows[0]?.length ?? 0;
    rows.forEach((row, i) => {
      if (!Array.isArray(row) || row.length !== width) {
        graphError(
          `${field}: row ${i} has ${Array.isArray(row) ? row.length : 'no'} entries, expected ${width}`,
          { field, row: i },
        );
      }
    });
    mat = matrixFromRows(rows);
  } else {
    graphError(`${field} must be an array of rows or a Matrix`, { field });
  }
  if (mat.rows === 0 || mat.cols === 0) graphError(`${field} is empty`, { field });
  if (allFinite(mat.data)) return mat;
  for (let k = 0; k < mat.data.length; k++) {
    const v = mat.data[k]!;
    if (!Number.isFinite(v)) {
      const i = Math.floor(k / mat.cols);
      graphError(`${field}[${i}][${k - i * mat.cols}] is not a finite number (${String(v)})`, {
        field,
        row: i,
      });
    }
  }
  return mat;
}

/**
 * Whether every entry is finite: v − v is 0 for a finite v and NaN otherwise, and NaN survives
 * the sums. Four sums without a branch per entry, about four times faster than Number.isFinite on
 * each; the caller looks for the first offending entry only when this fails.
 */
function allFinite(d: Float64Array): boolean {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const len = d.length;
  let k = 0;
  for (; k + 3 < len; k += 4) {
    s0 += d[k]! - d[k]!;
    s1 += d[k + 1]! - d[k + 1]!;
    s2 += d[k + 2]! - d[k + 2]!;
    s3 += d[k + 3]! - d[k + 3]!;
  }
  for (; k < len; k++) s0 += d[k]! - d[k]!;
  return s0 + s1 + s2 + s3 === 0;
}

function structureMatrix(input: MatrixInput, field: string): Matrix {
  const c = toMatrix(input, field);
  if (c.rows !== c.cols) graphError(`${field} must be square (got ${c.rows}×${c.cols})`, { field });
  const n = c.rows;
  if (isSymmetric(c.data, n)) return c;
  // Report the first asymmetric pair in row order.
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const a = c.data[i * n + j]!;
      const b = c.data[j * n + i]!;
      if (!symmetricPair(a, b)) {
        graphError(`${field} must be symmetric: [${i}][${j}] = ${a} but [${j}][${i}] = ${b}`, {
          field,
          row: i,
          col: j,
        });
      }
    }
  }
  return c;
}

function symmetricPair(a: number, b: number): boolean {
  return !(Math.abs(a - b) > SYMMETRY_TOLERANCE * Math.max(1, Math.abs(a), Math.abs(b)));
}

/** The symmetry test in 32×32 tiles, so that the transposed reads stay in cache. */
function isSymmetric(d: Float64Array, n: number): boolean {
  const tile = 32;
  for (let bi = 0; bi < n; bi += tile) {
    const iEnd = Math.min(bi + tile, n);
    for (let bj = bi; bj < n; bj += tile) {
      const jEnd = Math.min(bj + tile, n);
      for (let i = bi; i < iEnd; i++) {
        for (let j = Math.max(bj, i + 1); j < jEnd; j++) {
          // Exactly equal pairs (the usual case) need no tolerance test.
          const a = d[i * n + j]!;
          const b = d[j * n + i]!;
          if (a !== b && !symmetricPair(a, b)) return false;
        }
      }
    }
  }
  return true;
}

function weights(input: VectorInput | undefined, size: number, field: string): Float64Array {
  if (input === undefined) return new Float64Array(size).fill(1 / size);
  if (!Array.isArray(input) && !(input instanceof Float64Array))
    weightError(`${field} must be an array of numbers`, field);
  if (input.length !== size)
    weightError(`${field} has ${input.length} entries but the graph has ${size} nodes`, field);
  const w = Float64Array.from(input);
  let sum = 0;
  for (let i = 0; i < size; i++) {
    const v = w[i]!;
    if (!Number.isFinite(v))
      weightError(`${field}[${i}] is not a finite number (${String(input[i])})`, field);
    if (v < 0) weightError(`${field}[${i}] is negative (${v})`, field);
    sum += v;
  }
  if (Math.abs(sum - 1) > WEIGHT_SUM_TOLERANCE) weightError(`${field} must sum to 1 (sums to ${sum})`, field);
  return w;
}

function graphError(message: string, details: Record<string, unknown>): never {
  throw new WardenError('RD_INVALID_GRAPH', message, { details });
}

function weightError(message: string, field: string): never {
  throw new WardenError('RD_INVALID_WEIGHTS', message, { details: { field } });
}
