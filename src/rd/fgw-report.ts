import type { FgwOptions } from './options.js';
import { compileFgwOptions } from './options.js';
import { matrixToRows } from './matrix.js';
import type { FgwResult } from './result.js';

/** An FGW result as JSON: what `warden rd fgw --json` prints and `POST /rd/fgw` answers. */
export interface FgwReport {
  distance: number;
  alpha: number;
  epsilon: number;
  solver: FgwResult['solver'];
  iterations: number;
  converged: boolean;
  featureCost: number;
  structureCost: number;
  tieRestarts: number;
  /** The n×m coupling as rows. */
  coupling: number[][];
}

/** The JSON view of `result`, with the `alpha` and `epsilon` (defaults applied) it was computed with. */
export function fgwReport(result: FgwResult, options: FgwOptions = {}): FgwReport {
  const { alpha, epsilon } = compileFgwOptions(options);
  return {
    distance: result.distance,
    alpha,
    epsilon,
    solver: result.solver,
    iterations: result.iterations,
    converged: result.converged,
    featureCost: result.featureCost,
    structureCost: result.structureCost,
    tieRestarts: result.tieRestarts,
    coupling: matrixToRows(result.coupling),
  };
}
