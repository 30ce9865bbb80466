import { invalidPoints } from './curve-input.js';
import { kneedle } from './kneedle.js';
import { mengerKnee } from './menger.js';

/** One refinement step of an agent: how far its output still is from the target, and how much the outputs vary. */
export interface RefinementPoint {
  /** Distortion D > 0 of this step (e.g. an FGW distance to the reference output). */
  distortion: number;
  /** Variance σ² > 0 of the source at this step (spread of the outputs being refined). */
  variance: number;
}

/** A refinement point with its Shannon rate. */
export interface RatePoint extends RefinementPoint {
  /** R(D) = max(0, ½·log2(σ² / D)) bits. */
  rate: number;
  /** Position in the caller's list. */
  index: number;
}

/**
 * Shannon rate of a refinement point: the rate-distortion function of a memoryless Gaussian
 * source of variance σ² under squared error, R(D) = max(0, ½·log2(σ²/D)) bits per sample
 * (Shannon 1959). It is the least information a step must add to bring distortion down to D;
 * for any other source of the same variance it is an upper bound (the Gaussian is the hardest
 * source to describe), which makes it a safe, assumption-light cost axis. Zero when D ≥ σ².
 */
export function shannonRate(distortion: number, variance: number): number {
  if (!(Number.isFinite(distortion) && distortion > 0))
    invalidPoints(`distortion must be a finite number > 0 (got ${String(distortion)})`);
  if (!(Number.isFinite(variance) && variance > 0))
    invalidPoints(`variance must be a finite number > 0 (got ${String(variance)})`);
  return Math.max(0, 0.5 * Math.log2(variance / distortion));
}

/** The rate of every refinement point, in the caller's order. */
export function rateDistortionCurve(points: readonly RefinementPoint[]): RatePoint[] {
  if (!Array.isArray(points)) invalidPoints('refinement points must be an array');
  return points.map((p, index) => {
    if (typeof p !== 'object' || p === null) invalidPoints(`refinement point ${index} must be an object`);
    return {
      distortion: p.distortion,
      variance: p.variance,
      rate: shannonRate(p.distortion, p.variance),
      index,
    };
  });
}

export type KneeMethod = 'kneedle' | 'menger';

export interface RdKneeOptions {
  /** @default 'kneedle' */
  method?: KneeMethod;
  /** Kneedle sensitivity S. @default 1 */
  sensitivity?: number;
}

/**
 * The operating point where more refinement stops paying: the knee of distortion against rate
 * (a convex, decreasing curve). Returns the refinement point and its index, or null.
 *
 * @example
 * const steps = [9, 5, 2.6, 1.3, 0.9, 0.7, 0.6, 0.55].map((distortion) => ({ distortion, variance: 10 }));
 * findRdKnee(steps)?.index; // 2: the third step is where refinement stops paying
 */
export function findRdKnee(
  points: readonly RefinementPoint[],
  options: RdKneeOptions = {},
): { point: RatePoint; index: number } | null {
  const curve = rateDistortionCurve(points);
  const x = curve.map((p) => p.rate);
  const y = curve.map((p) => p.distortion);
  const knee =
    (options.method ?? 'kneedle') === 'menger'
      ? mengerKnee(x, y)
      : kneedle(x, y, { curve: 'convex', direction: 'decreasing', sensitivity: options.sensitivity ?? 1 });
  if (knee === null) return null;
  const point = curve[knee.index]!;
  return { point, index: knee.index };
}
