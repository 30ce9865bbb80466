import { ExactTransport } from './emd.js';
import {
  completeProduct,
  fillConstC,
  incrementalProduct,
  productScratch,
  sparseHalfProduct,
  supportQuadratic,
} from './gw-terms.js';
import { frobenius } from './matrix.js';
import { PARALLEL_MIN_WORK, sharedCopy, sharedFloat64 } from './parallel-gemm.js';
import { solveQuadraticStep } from './line-search.js';
import type { CompiledFgwOptions } from './options.js';
import type { CompiledProblem } from './problem.js';
import type { FgwResult } from './result.js';

/** One conditional-gradient run, and whether any of its LPs had tied optimal vertices. */
export interface CgRun {
  readonly result: FgwResult;
  readonly ties: boolean;
}

/** Node relabelling handed to the exact OT solver to change how it breaks ties. */
export interface TieBreakOrder {
  readonly rows: Int32Array;
  readonly cols: Int32Array;
}

/**
 * Exact FGW by conditional gradient (Frank-Wolfe), as POT's `fused_gromov_wasserstein`
 * (square loss, `armijo=False`): linearise at G, solve the linear program exactly, take the exact
 * line-search step on the segment, stop on relative or absolute change of the objective.
 *
 * Beyond POT, P = C1·G·C2 is carried along instead of being recomputed: P is linear in G, the
 * starting plan p·qᵀ gives P = (C1·p)(C2·q)ᵀ for free, and the line search needs only
 * ⟨C1·Gc·C2, Gc⟩ over the sparse support of the LP vertex Gc. So an iteration costs one exact OT
 * solve plus one dense product (n²m or nm²), and none when the step is 0 (the final check).
 */
export function solveConditionalGradient(
  pb: CompiledProblem,
  o: CompiledFgwOptions,
  order?: TieBreakOrder,
): CgRun {
  const { n, m, p, q } = pb;
  const nm = n * m;
  // Shared buffers cost more to allocate: only when a product is large enough to be split.
  const shared = o.threads === 2 && n * m * Math.min(n, m) >= PARALLEL_MIN_WORK;
  const c1 = shared ? sharedCopy(pb.c1) : pb.c1;
  const c2 = shared ? sharedCopy(pb.c2) : pb.c2;
  const alpha = o.alpha;
  const constC = new Float64Array(nm);
  fillConstC(c1, c2, p, q, n, m, constC);
  const mf = new Float64Array(nm);
  for (let k = 0; k < nm; k++) mf[k] = (1 - alpha) * pb.cost[k]!;
  // Line-search linear coefficient uses Mf + α·constC, as POT 0.8.2.
  const mfc = new Float64Array(nm);
  for (let k = 0; k < nm; k++) mfc[k] = mf[k]! + alpha * constC[k]!;

  const g = new Float64Array(nm);
  const gc = new Float64Array(nm);
  const pg = new Float64Array(nm);
  // x = C1·xVertex·C2 for the last LP vertex whose product was formed (valid once hasX).
  const x = shared ? sharedFloat64(nm) : new Float64Array(nm);
  const xVertex = new Float64Array(nm);
  let hasX = false;
  const mi = new Float64Array(nm);
  const scratch = productScratch(n, m, shared);
  const emd = new ExactTransport(p, q, order?.rows, order?.cols);
  let ties = false;

  // G0 = p·qᵀ and P(G0) = (C1·p)(C2·q)ᵀ.
  const c1p = new Float64Array(n);
  const c2q = new Float64Array(m);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) c1p[i] = c1p[i]! + c1[i * n + k]! * p[k]!;
  for (let j = 0; j < m; j++) for (let l = 0; l < m; l++) c2q[j] = c2q[j]! + c2[j * m + l]! * q[l]!;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      g[i * m + j] = p[i]! * q[j]!;
      pg[i * m + j] = c1p[i]! * c2q[j]!;
    }
  }

  let cost = objective(mf, constC, pg, g, alpha, nm);
  let it = 0;
  let converged = false;
  let lpFailed = false;
  for (;;) {
    it++;
    const old = cost;
    // Linearisation: Mi = Mf + α·2·(constC − 2P); POT 0.8.2 then adds min(Mi), which leaves the LP argmin unchanged.
    let minMi = Infinity;
    for (let k = 0; k < nm; k++) {
      const v = mf[k]! + alpha * (2 * (constC[k]! - 2 * pg[k]!));
      mi[k] = v;
      if (v < minMi) minMi = v;
    }
    for (let k = 0; k < nm; k++) mi[k] = mi[k]! + minMi;
    // The first LP starts cold, exactly as POT; later ones resume from the previous basis.
    const status = emd.solve(mi, gc, o.emdMaxIter, it > 1);
    if (status !== 'optimal') {
      lpFailed = true;
      if (status !== 'max-iter') break;
    }
    if (!ties && emd.hadTies()) ties = true;
    const support = emd.support;
    const size = emd.supportSize;

    // ⟨P, G⟩, ⟨P, Gc⟩ and ⟨C1·Gc·C2, Gc⟩ (on the support of Gc only), and ⟨Mf + α·constC, ΔG⟩.
    const pgG = frobenius(pg, g, nm);
    let pgGc = 0;
    for (let s = 0; s < size; s++) pgGc += pg[support[s]!]! * gc[support[s]!]!;
    sparseHalfProduct(c1, c2, gc, support, size, n, m, scratch.tmp);
    const xGc = supportQuadratic(c1, c2, gc, support, size, n, m, scratch.tmp);
    let lin = 0;
    for (let k = 0; k < nm; k++) lin += mfc[k]! * (gc[k]! - g[k]!);
    const quadDelta = xGc - 2 * pgGc + pgG; // ⟨C1·ΔG·C2, ΔG⟩
    const crossDelta = pgGc - pgG; // ⟨C1·ΔG·C2, G⟩ = ⟨C1·G·C2, ΔG⟩ for symmetric C1, C2
    const qa = -2 * alpha * quadDelta;
    const qb = lin - 2 * alpha * (crossDelta + crossDelta);
    const step = solveQuadraticStep(qa, qb, cost);

    if (step > 0) {
      if (!hasX || !incrementalProduct(c1, c2, gc, xVertex, n, m, scratch, x))
        completeProduct(c1, c2, n, m, scratch, x);
      xVertex.set(gc);
      hasX = true;
      for (let k = 0; k < nm; k++) {
        g[k] = g[k]! + step * (gc[k]! - g[k]!);
        pg[k] = pg[k]! + step * (x[k]! - pg[k]!);
      }
      cost = objective(mf, constC, pg, g, alpha, nm);
    }
    if (lpFailed) break;
    if (it >= o.maxIter) break;
    const absDelta = Math.abs(cost - old);
    if (absDelta / Math.abs(cost) < o.tolRel || absDelta < o.tolAbs) {
      converged = true;
      break;
    }
  }
  const featureCost = frobenius(pb.cost, g, nm);
  let structureCost = 0;
  for (let k = 0; k < nm; k++) structureCost += (constC[k]! - 2 * pg[k]!) * g[k]!;
  const result: FgwResult = {
    distance: cost,
    coupling: { rows: n, cols: m, data: g },
    iterations: it,
    converged: converged && !lpFailed,
    featureCost,
    structureCost,
    solver: 'conditional-gradient',
    tieRestarts: 0,
  };
  return { result, ties };
}

/** cost(G) = ⟨Mf, G⟩ + α·⟨constC − 2·C1·G·C2, G⟩ given P = C1·G·C2. */
function objective(
  mf: Float64Array,
  constC: Float64Array,
  pg: Float64Array,
  g: Float64Array,
  alpha: number,
  nm: number,
): number {
  let lin = 0;
  let quad = 0;
  for (let k = 0; k < nm; k++) {
    lin += mf[k]! * g[k]!;
    quad += (constC[k]! - 2 * pg[k]!) * g[k]!;
  }
  return lin + alpha * quad;
}
