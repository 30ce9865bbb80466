// Rate-distortion analysis: FGW distortion between attributed graphs, Shannon rate, knee detection.
export { fusedGromovWasserstein } from './fgw.js';
export type { FgwProblem } from './problem.js';
export { WEIGHT_SUM_TOLERANCE } from './problem.js';
export type { FgwOptions } from './options.js';
export type { FgwResult } from './result.js';
export { fgwDistance, shortestPathMatrix } from './graph.js';
export type { AttributedGraph, Edge } from './graph.js';
export { matrixFromRows, matrixToRows } from './matrix.js';
export type { Matrix, MatrixInput, VectorInput } from './matrix.js';
export { kneedle } from './kneedle.js';
export type { CurveDirection, CurveShape, KneePoint, KneedleOptions, KneedleResult } from './kneedle.js';
export { mengerKnee } from './menger.js';
export type { MengerOptions, MengerResult } from './menger.js';
export { findRdKnee, rateDistortionCurve, shannonRate } from './rate.js';
export type { KneeMethod, RatePoint, RdKneeOptions, RefinementPoint } from './rate.js';
