import { WardenError } from '../core/index.js';
import { pairwiseSum } from './matrix.js';
import { NetworkSimplex } from './network-simplex.js';
import type { SimplexStatus } from './network-simplex.js';

/** POT's default pivot budget for one exact OT solve (`numItermaxEmd`). */
export const DEFAULT_EMD_MAX_ITER = 100_000;

/**
 * Reusable exact OT solver (earth mover's distance) for a fixed pair of marginals, as POT's
 * `ot.emd`: zero-mass nodes are dropped, `b` is rescaled to the mass of `a`, and the network
 * simplex returns an optimal vertex of the transport polytope. Buffers are allocated once.
 */
export class ExactTransport {
  private readonly simplex: NetworkSimplex;
  private readonly rowIndex: Int32Array;
  private readonly colIndex: Int32Array;
  private readonly wa: Float64Array;
  private readonly wb: Float64Array;
  private readonly n: number;
  private readonly m: number;
  private readonly na: number;
  private readonly nb: number;
  /** Flat indices (i * m + j) of the non-zero entries of the last plan. */
  readonly support: Int32Array;
  /** Number of valid entries in {@link support}. */
  supportSize = 0;
  private released = false;
  /** The plan written by the last solve (see `solve`). */
  private lastPlan: Float64Array | undefined;
  /** Whether the simplex holds an optimal basis to warm-start from. */
  private solved = false;
  /** Status of the last solve. */
  status: SimplexStatus = 'optimal';

  /**
   * `rowOrder`/`colOrder` (permutations of 0..n-1 / 0..m-1) relabel the nodes before solving:
   * the optimum is the same, but when several vertices are optimal a different one may be chosen.
   */
  constructor(a: Float64Array, b: Float64Array, rowOrder?: Int32Array, colOrder?: Int32Array) {
    const n = (this.n = a.length);
    const m = (this.m = b.length);
    this.rowIndex = new Int32Array(n);
    this.colIndex = new Int32Array(m);
    this.wa = new Float64Array(n);
    this.wb = new Float64Array(m);
    const scale = pairwiseSum(a);
    const sumB = pairwiseSum(b);
    let na = 0;
    for (let r = 0; r < n; r++) {
      const i = rowOrder ? rowOrder[r]! : r;
      if (a[i]! > 0) {
        this.rowIndex[na] = i;
        this.wa[na++] = a[i]!;
      }
    }
    let nb = 0;
    for (let c = 0; c < m; c++) {
      const j = colOrder ? colOrder[c]! : c;
      // Same rounding as POT: b * a.sum() / b.sum().
      const v = (b[j]! * scale) / sumB;
      if (v > 0) {
        this.colIndex[nb] = j;
        this.wb[nb++] = v;
      }
    }
    this.na = na;
    this.nb = nb;
    this.simplex = new NetworkSimplex(na, nb);
    this.simplex.reset(this.wa, na, this.wb, nb);
    this.simplex.mapArcs(m, this.rowIndex, this.colIndex);
    // Only spanning-tree arcs carry flow (see NetworkSimplex.writeFlow): at most na + nb of them.
    this.support = new Int32Array(Math.max(na + nb, 1));
  }

  /**
   * Solves min ⟨cost + costShift, G⟩ over couplings of (a, b) and writes the plan into `plan` (n×m,
   * fully overwritten). Returns the status; the plan is usable for 'optimal' and 'max-iter'. With
   * `warm`, starts from the previous optimal basis when there is one (same marginals, new costs),
   * and when `plan` is the previous call's plan, untouched since, only its support is cleared.
   */
  solve(
    cost: Float64Array,
    plan: Float64Array,
    maxIter = DEFAULT_EMD_MAX_ITER,
    warm = false,
    costShift = 0,
  ): SimplexStatus {
    if (this.released) {
      throw new WardenError('INVALID_STATE', 'This exact transport solver was released and cannot solve.');
    }
    if (warm && plan === this.lastPlan) {
      for (let s = 0; s < this.supportSize; s++) plan[this.support[s]!] = 0;
    } else {
      plan.fill(0, 0, this.n * this.m);
    }
    this.lastPlan = plan;
    const canWarm = warm && this.solved;
    if (!canWarm) this.simplex.reset(this.wa, this.na, this.wb, this.nb);
    this.simplex.setCosts(cost, costShift);
    this.status = canWarm ? this.simplex.rerun(maxIter) : this.simplex.run(maxIter);
    this.solved = this.status === 'optimal';
    this.supportSize =
      this.status === 'optimal' || this.status === 'max-iter'
        ? this.simplex.writeFlow(plan, this.support)
        : 0;
    return this.status;
  }

  /**
   * Lets the next solver reuse this one's WebAssembly memory (optional, see
   * {@link NetworkSimplex.release}); later calls to {@link solve} throw.
   */
  release(): void {
    this.released = true;
    this.simplex.release();
  }

  /** Whether the last solve had several optimal vertices (see {@link NetworkSimplex.hasTies}). */
  hadTies(relTol = 1e-9): boolean {
    return this.simplex.hasTies(relTol);
  }
}
