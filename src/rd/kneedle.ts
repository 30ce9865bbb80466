import { WardenError } from '../core/index.js';
import { minMaxNormalise, sortedCurve } from './curve-input.js';

/** Shape of the curve for Kneedle; `convex` + `decreasing` is a rate-distortion curve. */
export type CurveShape = 'concave' | 'convex';
export type CurveDirection = 'increasing' | 'decreasing';

/** A point of a curve and its index in the caller's arrays. */
export interface KneePoint {
  x: number;
  y: number;
  index: number;
}

export interface KneedleOptions {
  /** Sensitivity S: larger waits for a clearer knee; 0 fires at the first dip. @default 1 */
  sensitivity?: number;
  /** @default 'convex' */
  curve?: CurveShape;
  /** @default 'decreasing' */
  direction?: CurveDirection;
  /** Keep scanning after the first knee; the last one found is returned. @default false */
  online?: boolean;
}

export interface KneedleResult extends KneePoint {
  /** The knee's x after min-max normalisation (kneed's `norm_knee`, not mapped back for flipped shapes). */
  normX: number;
  /** The normalised, shape-transformed y at `normX` (kneed's `norm_knee_y`). */
  normY: number;
  /** Every knee found, by increasing x (one entry unless `online`). */
  allKnees: KneePoint[];
}

/**
 * Kneedle (Satopää, Albrecht, Irwin & Raghavan, 2011) with the semantics of kneed 0.8.6's
 * `KneeLocator` (interp_method 'interp1d', i.e. no smoothing): normalise to [0, 1], turn the
 * shape into concave-increasing, take the difference curve yd = yn − xn, and report the first
 * local maximum of yd after which yd drops below yd_max − S·mean(Δxn) before the next local
 * minimum. Returns null when there is no knee.
 *
 * @example
 * kneedle([1, 2, 3, 4, 5, 6], [100, 40, 20, 14, 12, 11])?.x; // 3
 */
export function kneedle(
  x: readonly number[] | Float64Array,
  y: readonly number[] | Float64Array,
  options: KneedleOptions = {},
): KneedleResult | null {
  const s = options.sensitivity ?? 1;
  if (!(s >= 0 && Number.isFinite(s))) {
    throw new WardenError(
      'RD_INVALID_OPTIONS',
      `Kneedle sensitivity must be a finite number ≥ 0 (got ${String(s)}).`,
    );
  }
  const curve = options.curve ?? 'convex';
  const direction = options.direction ?? 'decreasing';
  const sorted = sortedCurve(x, y);
  const n = sorted.x.length;
  const xn = minMaxNormalise(sorted.x);
  let yn = minMaxNormalise(sorted.y);
  const flip = (curve === 'concave') !== (direction === 'increasing');
  if (curve === 'convex') {
    let top = -Infinity;
    for (const v of yn) if (v > top) top = v;
    yn = yn.map((v) => top - v);
  }
  if (flip) yn.reverse();
  const yd = yn.map((v, i) => v - xn[i]!);
  const { maxima, minima } = localExtrema(yd);
  if (maxima.length === 0) return null;
  let meanStep = 0;
  for (let i = 1; i < n; i++) meanStep += xn[i]! - xn[i - 1]!;
  meanStep = Math.abs(meanStep / (n - 1));
  const isMax = new Uint8Array(n);
  const isMin = new Uint8Array(n);
  for (const i of maxima) isMax[i] = 1;
  for (const i of minima) isMin[i] = 1;

  const found: number[] = [];
  let threshold = 0;
  let thresholdIndex = 0;
  let active = false;
  for (let i = maxima[0]!; i < n; i++) {
    if (xn[i] === 1) break;
    if (isMax[i]) {
      threshold = yd[i]! - s * meanStep;
      thresholdIndex = i;
      active = true;
    }
    if (isMin[i]) {
      threshold = 0;
      active = false;
    }
    if (active && yd[i + 1]! < threshold) {
      found.push(thresholdIndex);
      if (!options.online) break;
    }
  }
  if (found.length === 0) return null;
  const toPoint = (t: number): KneePoint => {
    const k = flip ? n - 1 - t : t;
    return { x: sorted.x[k]!, y: sorted.y[k]!, index: sorted.order[k]! };
  };
  const last = found[found.length - 1]!;
  const byX = new Map<number, KneePoint>();
  for (const t of found) byX.set(toPoint(t).x, toPoint(t));
  return {
    ...toPoint(last),
    normX: xn[last]!,
    normY: yn[last]!,
    allKnees: [...byX.values()].sort((a, b) => a.x - b.x),
  };
}

/** scipy's argrelextrema(order=1, mode='clip') with ≥ and ≤: plateaus count as both. */
export function localExtrema(v: Float64Array): { maxima: number[]; minima: number[] } {
  const maxima: number[] = [];
  const minima: number[] = [];
  const n = v.length;
  for (let i = 0; i < n; i++) {
    const c = v[i]!;
    const left = v[Math.max(i - 1, 0)]!;
    const right = v[Math.min(i + 1, n - 1)]!;
    if (c >= left && c >= right) maxima.push(i);
    if (c <= left && c <= right) minima.push(i);
  }
  return { maxima, minima };
}
