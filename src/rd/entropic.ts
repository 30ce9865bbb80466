import { fillConstC, productScratch, structureProduct } from './gw-terms.js';
import { frobenius } from './matrix.js';
import { PARALLEL_MIN_WORK, sharedCopy, sharedFloat64 } from './parallel-gemm.js';
import type { CompiledFgwOptions } from './options.js';
import type { CompiledProblem } from './problem.js';
import type { FgwResult } from './result.js';
import { sinkhornLog, sinkhornWorkspace } from './sinkhorn-log.js';

/**
 * Entropic FGW, as upstream POT's `entropic_fused_gromov_wasserstein` (solver 'PGD'): starting
 * from T = p·qᵀ, repeatedly project the FGW gradient α·2·(constC − 2·C1·T·C2) + (1 − α)·M with an
 * entropic OT solve of strength ε. ‖T − T_prev‖_F is tested every 10th iteration, so the loop ends
 * at an iteration count of the form 10k + 1. The returned distance is the unregularised FGW
 * objective at the entropic plan (no entropy term), as POT's `entropic_fused_gromov_wasserstein2`.
 */
export function solveEntropic(pb: CompiledProblem, o: CompiledFgwOptions): FgwResult {
  const { n, m, p, q, cost } = pb;
  const nm = n * m;
  // Shared buffers cost more to allocate: only when a product is large enough to be split.
  const shared = o.threads === 2 && n * m * Math.min(n, m) >= PARALLEL_MIN_WORK;
  const c1 = shared ? sharedCopy(pb.c1) : pb.c1;
  const c2 = shared ? sharedCopy(pb.c2) : pb.c2;
  const alpha = o.alpha;
  const constC = new Float64Array(nm);
  fillConstC(c1, c2, p, q, n, m, constC);
  const t = shared ? sharedFloat64(nm) : new Float64Array(nm);
  const tPrev = new Float64Array(nm);
  const pt = shared ? sharedFloat64(nm) : new Float64Array(nm);
  const tens = new Float64Array(nm);
  const scratch = productScratch(n, m, shared);
  const w = sinkhornWorkspace(p, q);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) t[i * m + j] = p[i]! * q[j]!;

  let err = 1;
  let cpt = 0;
  let innerOk = true;
  while (err > o.tolAbs && cpt < o.maxIter) {
    tPrev.set(t);
    structureProduct(c1, c2, t, n, m, scratch, pt);
    for (let k = 0; k < nm; k++) tens[k] = alpha * (2 * (constC[k]! - 2 * pt[k]!)) + (1 - alpha) * cost[k]!;
    const inner = sinkhornLog(tens, o.epsilon, w, o.sinkhornMaxIter, o.sinkhornTol, t);
    if (!inner.converged) innerOk = false;
    if (cpt % 10 === 0) {
      let s = 0;
      for (let k = 0; k < nm; k++) {
        const d = t[k]! - tPrev[k]!;
        s += d * d;
      }
      err = Math.sqrt(s);
    }
    cpt++;
  }
  structureProduct(c1, c2, t, n, m, scratch, pt);
  const featureCost = frobenius(cost, t, nm);
  let structureCost = 0;
  for (let k = 0; k < nm; k++) structureCost += (constC[k]! - 2 * pt[k]!) * t[k]!;
  return {
    distance: (1 - alpha) * featureCost + alpha * structureCost,
    coupling: { rows: n, cols: m, data: t },
    iterations: cpt,
    converged: !(err > o.tolAbs) && innerOk,
    featureCost,
    structureCost,
    solver: 'entropic',
    tieRestarts: 0,
  };
}
