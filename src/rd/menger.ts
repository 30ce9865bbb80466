import { WardenError } from '../core/index.js';
import { minMaxNormalise, sortedCurve } from './curve-input.js';
import type { KneePoint } from './kneedle.js';

export interface MengerOptions {
  /** Points P(i−h), P(i), P(i+h) form each triangle; h > 1 smooths noise. @default 1 */
  step?: number;
}

export interface MengerResult extends KneePoint {
  /** Signed curvature at every point of the input (NaN where no triangle fits), input order. */
  curvature: number[];
}

/**
 * Knee as the point of maximum Menger curvature (the seed's method): on min-max normalised x and
 * y, κ(P1, P2, P3) = 4·Area / (|P1P2|·|P2P3|·|P1P3|) = 1 / circumradius, signed (> 0 for a
 * counter-clockwise turn). The knee is the first point with the largest |κ|. Unlike Kneedle it
 * needs no shape hint, but with h = 1 it follows noise. Returns null when every κ is 0 or NaN.
 *
 * @example
 * mengerKnee([1, 2, 3, 4, 5, 6], [100, 40, 20, 14, 12, 11])?.x; // 3
 */
export function mengerKnee(
  x: readonly number[] | Float64Array,
  y: readonly number[] | Float64Array,
  options: MengerOptions = {},
): MengerResult | null {
  const h = options.step ?? 1;
  const sorted = sortedCurve(x, y);
  const n = sorted.x.length;
  if (!(Number.isInteger(h) && h >= 1 && 2 * h < n)) {
    throw new WardenError(
      'RD_INVALID_OPTIONS',
      `Menger step must be an integer ≥ 1 with 2·step < points (got ${String(h)}).`,
    );
  }
  const xn = minMaxNormalise(sorted.x);
  const yn = minMaxNormalise(sorted.y);
  const curvature: number[] = new Array<number>(n).fill(NaN);
  let best = -1;
  let bestAbs = 0;
  for (let k = h; k < n - h; k++) {
    const kappa = signedCurvature(xn[k - h]!, yn[k - h]!, xn[k]!, yn[k]!, xn[k + h]!, yn[k + h]!);
    curvature[sorted.order[k]!] = kappa;
    if (Math.abs(kappa) > bestAbs) {
      bestAbs = Math.abs(kappa);
      best = k;
    }
  }
  if (best < 0) return null;
  return { x: sorted.x[best]!, y: sorted.y[best]!, index: sorted.order[best]!, curvature };
}

/** Signed Menger curvature of three points; 0 when two of them coincide. */
export function signedCurvature(
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  x3: number,
  y3: number,
): number {
  const a = Math.hypot(x2 - x1, y2 - y1);
  const b = Math.hypot(x3 - x2, y3 - y2);
  const c = Math.hypot(x3 - x1, y3 - y1);
  const denom = a * b * c;
  if (denom === 0) return 0;
  return (2 * ((x2 - x1) * (y3 - y1) - (y2 - y1) * (x3 - x1))) / denom;
}
