import type { Matrix } from './matrix.js';

/** The outcome of one FGW computation. */
export interface FgwResult {
  /**
   * The FGW objective at the returned coupling, as POT's `fused_gromov_wasserstein2`:
   * (1 − α)·⟨M, T⟩ + α·Σ_{ijkl} (C1[i,k] − C2[j,l])²·T[i,j]·T[k,l]. Not square-rooted; 0 for
   * identical graphs, ≥ 0 for non-negative M.
   */
  distance: number;
  /** The n×m transport plan T (row-major); its row sums are p and its column sums q. */
  coupling: Matrix;
  /** Outer iterations run (conditional-gradient steps, or entropic projections). */
  iterations: number;
  /** True when the tolerance stopped the loop before maxIter and every subproblem was solved. */
  converged: boolean;
  /** ⟨M, T⟩, the feature (Wasserstein) part before weighting by 1 − α. */
  featureCost: number;
  /** Σ (C1[i,k] − C2[j,l])² T[i,j] T[k,l], the structure (Gromov-Wasserstein) part before weighting by α. */
  structureCost: number;
  /**
   * Extra conditional-gradient runs made because a linearised LP had several optimal vertices
   * (see `tieRestarts` in the options); 0 when the first run met no tie or for the entropic solver.
   */
  tieRestarts: number;
  /** Which solver ran. */
  solver: 'conditional-gradient' | 'entropic';
}
