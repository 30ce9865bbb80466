import { WardenError } from '../core/index.js';

/** A curve sorted by x, with the input position of each sorted point. */
export interface SortedCurve {
  readonly x: Float64Array;
  readonly y: Float64Array;
  /** order[k] = index in the caller's arrays of the k-th point by increasing x. */
  readonly order: Int32Array;
}

/**
 * Validates a curve for knee detection (same length, ≥ 3 finite points, a non-zero x range) and
 * sorts it by x (stable), remembering where each point came from. Throws `RD_INVALID_POINTS`.
 */
export function sortedCurve(
  x: readonly number[] | Float64Array,
  y: readonly number[] | Float64Array,
): SortedCurve {
  if (!isNumberArray(x) || !isNumberArray(y)) invalidPoints('x and y must be arrays of numbers');
  if (x.length !== y.length) invalidPoints(`x has ${x.length} values but y has ${y.length}`);
  if (x.length < 3) invalidPoints(`a knee needs at least 3 points (got ${x.length})`);
  for (let i = 0; i < x.length; i++) {
    if (typeof x[i] !== 'number' || !Number.isFinite(x[i])) invalidPoints(`x[${i}] is not a finite number`);
    if (typeof y[i] !== 'number' || !Number.isFinite(y[i])) invalidPoints(`y[${i}] is not a finite number`);
  }
  const idx = Array.from({ length: x.length }, (_, i) => i).sort((a, b) => x[a]! - x[b]! || a - b);
  const order = Int32Array.from(idx);
  const sx = Float64Array.from(idx, (i) => x[i]!);
  const sy = Float64Array.from(idx, (i) => y[i]!);
  if (!(sx[sx.length - 1]! > sx[0]!)) invalidPoints('all x values are equal: the curve has no x range');
  return { x: sx, y: sy, order };
}

/** (v − min) / (max − min); all zeros when the range is empty. */
export function minMaxNormalise(v: Float64Array): Float64Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const e of v) {
    if (e < lo) lo = e;
    if (e > hi) hi = e;
  }
  const range = hi - lo;
  return v.map((e) => (range > 0 ? (e - lo) / range : 0));
}

function isNumberArray(v: unknown): v is readonly number[] | Float64Array {
  return Array.isArray(v) || v instanceof Float64Array;
}

export function invalidPoints(message: string): never {
  throw new WardenError('RD_INVALID_POINTS', message);
}
