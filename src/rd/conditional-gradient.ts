import { ExactTransport } from './emd.js';
import type { ProductScratch } from './gw-terms.js';
import {
  completeProduct,
  fillConstTerms,
  incrementalProduct,
  productScratch,
  sparseHalfProduct,
  supportQuadratic,
} from './gw-terms.js';
import { frobenius, rowSums } from './matrix.js';
import { PARALLEL_MIN_WORK, sharedCopy, sharedFloat64 } from './parallel-gemm.js';
import { solveQuadraticStep } from './line-search.js';
import type { CompiledFgwOptions } from './options.js';
import type { CompiledProblem } from './problem.js';
import type { FgwResult } from './result.js';
import { CgMemory } from './wasm-cg.js';
import type { CgSums } from './wasm-cg.js';

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
  const work = takeWorkspace(n, m, shared);
  // Line-search linear coefficient uses Mf + α·constC, as POT 0.8.2.
  const { constC, mfc, gc, pg, x, xVertex, xSupport, changedRow, mi, scratch, c1p, c2q } = work;
  const { rowTerm, colTerm, cg } = work;
  fillConstTerms(c1, c2, p, q, n, m, rowTerm, colTerm);
  // The plan is returned: taken from the workspace only with the WebAssembly kernels, and then
  // copied out at the end.
  const g = cg ? cg.g : new Float64Array(nm);
  // x = C1·xVertex·C2 for the last LP vertex whose product was formed (valid once hasX); that
  // vertex is kept dense and as its support list, so that it is updated in O(support).
  let hasX = false;
  xVertex.fill(0);
  let xSupportSize = 0;
  changedRow.fill(0);
  const emd = new ExactTransport(p, q, order?.rows, order?.cols);
  let ties = false;

  // G0 = p·qᵀ and P(G0) = (C1·p)(C2·q)ᵀ.
  rowSums(c1, p, n, c1p, false);
  rowSums(c2, q, m, c2q, false);

  // One pass sets constC, Mf, Mf + α·constC, G0 and P(G0), and accumulates what the loop needs first:
  // cost(G) = ⟨Mf, G⟩ + α·⟨constC − 2P, G⟩, ⟨P, G⟩, and the linearisation Mi = Mf + α·2·(constC − 2P)
  // with its minimum. POT 0.8.2 adds min(Mi) to Mi, which leaves the LP argmin unchanged; the exact
  // transport solver adds it as it reads the costs. After each step the same quantities are
  // refreshed in the pass that updates G and P. Every sum runs over k = i·m + j in increasing order.
  const sums: CgSums = { linG: 0, quadG: 0, pgG: 0, minMi: Infinity };
  if (cg) {
    cg.cost.set(pb.cost);
    cg.setStructure(c1, c2);
    cg.p.set(p);
    cg.q.set(q);
    cg.start(alpha, sums);
  } else startPass(pb, alpha, work, g, sums);
  let cost = sums.linG + alpha * sums.quadG;
  let { pgG, minMi } = sums;

  let it = 0;
  let converged = false;
  let lpFailed = false;
  for (;;) {
    it++;
    const old = cost;
    // The first LP starts cold, exactly as POT; later ones resume from the previous basis.
    const status = emd.solve(mi, gc, o.emdMaxIter, it > 1, minMi);
    if (status !== 'optimal') {
      lpFailed = true;
      if (status !== 'max-iter') break;
    }
    if (!ties && emd.hadTies()) ties = true;
    const support = emd.support;
    const size = emd.supportSize;

    // ⟨P, G⟩, ⟨P, Gc⟩ and ⟨C1·Gc·C2, Gc⟩ (on the support of Gc only), and ⟨Mf + α·constC, ΔG⟩.
    let pgGc = 0;
    for (let s = 0; s < size; s++) pgGc += pg[support[s]!]! * gc[support[s]!]!;
    if (cg) cg.sparseHalf(support, size);
    else sparseHalfProduct(c1, c2, gc, support, size, n, m, scratch.tmp);
    const xGc = supportQuadratic(c1, c2, gc, support, size, n, m, scratch.tmp);
    const lin = cg ? cg.linear() : linearTerm(mfc, gc, g, nm);
    const quadDelta = xGc - 2 * pgGc + pgG; // ⟨C1·ΔG·C2, ΔG⟩
    const crossDelta = pgGc - pgG; // ⟨C1·ΔG·C2, G⟩ = ⟨C1·G·C2, ΔG⟩ for symmetric C1, C2
    const qa = -2 * alpha * quadDelta;
    const qb = lin - 2 * alpha * (crossDelta + crossDelta);
    const step = solveQuadraticStep(qa, qb, cost);

    if (step > 0) {
      let rows = 0;
      if (hasX) {
        // Rows where the new vertex differs from xVertex, in increasing order.
        const mark = (idx: number): void => {
          if (gc[idx] !== xVertex[idx]) changedRow[Math.floor(idx / m)] = 1;
        };
        for (let s = 0; s < xSupportSize; s++) mark(xSupport[s]!);
        for (let s = 0; s < size; s++) mark(support[s]!);
        for (let k = 0; k < n; k++) {
          if (changedRow[k] === 0) continue;
          changedRow[k] = 0;
          scratch.rows[rows++] = k;
        }
      }
      if (!hasX || !incrementalProduct(c1, c2, gc, xVertex, rows, n, m, scratch, x))
        completeProduct(c1, c2, n, m, scratch, x);
      for (let s = 0; s < xSupportSize; s++) xVertex[xSupport[s]!] = 0;
      for (let s = 0; s < size; s++) xVertex[support[s]!] = gc[support[s]!]!;
      xSupport.set(support.subarray(0, size));
      xSupportSize = size;
      hasX = true;
      if (cg) cg.step(step, alpha, sums);
      else stepPass(step, alpha, work, g, sums);
      cost = sums.linG + alpha * sums.quadG;
      ({ pgG, minMi } = sums);
    }
    if (lpFailed) break;
    if (it >= o.maxIter) break;
    const absDelta = Math.abs(cost - old);
    if (absDelta / Math.abs(cost) < o.tolRel || absDelta < o.tolAbs) {
      converged = true;
      break;
    }
  }
  emd.release(); // its WebAssembly memory goes to the next solve
  let featureCost: number;
  let structureCost: number;
  if (cg) [featureCost, structureCost] = cg.split();
  else {
    featureCost = frobenius(pb.cost, g, nm);
    structureCost = 0;
    for (let k = 0; k < nm; k++) structureCost += (constC[k]! - 2 * pg[k]!) * g[k]!;
  }
  const result: FgwResult = {
    distance: cost,
    coupling: { rows: n, cols: m, data: cg ? g.slice() : g },
    iterations: it,
    converged: converged && !lpFailed,
    featureCost,
    structureCost,
    solver: 'conditional-gradient',
    tieRestarts: 0,
  };
  if (!shared) spareWorkspace = work;
  return { result, ties };
}

// JavaScript versions of the passes in wasm-cg.ts (used without WebAssembly, or with shared
// buffers for two threads), with the same operations in the same order.

/** The starting pass: constC, Mf, Mf + α·constC, G0 = p·qᵀ, P(G0), Mi and their sums. */
function startPass(pb: CompiledProblem, alpha: number, work: Workspace, g: Float64Array, sums: CgSums): void {
  const { n, m, p, q } = pb;
  const { constC, mf, mfc, pg, mi, rowTerm, colTerm, c1p, c2q } = work;
  let linG = 0;
  let quadG = 0;
  let pgG = 0;
  let minMi = Infinity;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      const k = i * m + j;
      const mfk = (1 - alpha) * pb.cost[k]!;
      const cc = rowTerm[i]! + colTerm[j]!;
      constC[k] = cc;
      const gk = p[i]! * q[j]!;
      const pk = c1p[i]! * c2q[j]!;
      mf[k] = mfk;
      mfc[k] = mfk + alpha * cc;
      g[k] = gk;
      pg[k] = pk;
      linG += mfk * gk;
      quadG += (cc - 2 * pk) * gk;
      pgG += pk * gk;
      const v = mfk + alpha * (2 * (cc - 2 * pk));
      mi[k] = v;
      if (v < minMi) minMi = v;
    }
  }
  sums.linG = linG;
  sums.quadG = quadG;
  sums.pgG = pgG;
  sums.minMi = minMi;
}

/** ⟨Mf + α·constC, Gc − G⟩, summed in increasing k. */
function linearTerm(mfc: Float64Array, gc: Float64Array, g: Float64Array, nm: number): number {
  let lin = 0;
  for (let k = 0; k < nm; k++) lin += mfc[k]! * (gc[k]! - g[k]!);
  return lin;
}

/** G += step·(Gc − G), P += step·(X − P), the new Mi, and the sums of the starting pass. */
function stepPass(step: number, alpha: number, work: Workspace, g: Float64Array, sums: CgSums): void {
  const { constC, mf, gc, pg, x, mi } = work;
  const nm = work.n * work.m;
  let linG = 0;
  let quadG = 0;
  let pgG = 0;
  let minMi = Infinity;
  for (let k = 0; k < nm; k++) {
    const gk = g[k]! + step * (gc[k]! - g[k]!);
    const pk = pg[k]! + step * (x[k]! - pg[k]!);
    g[k] = gk;
    pg[k] = pk;
    linG += mf[k]! * gk;
    quadG += (constC[k]! - 2 * pk) * gk;
    pgG += pk * gk;
    const v = mf[k]! + alpha * (2 * (constC[k]! - 2 * pk));
    mi[k] = v;
    if (v < minMi) minMi = v;
  }
  sums.linG = linG;
  sums.quadG = quadG;
  sums.pgG = pgG;
  sums.minMi = minMi;
}

/**
 * The work arrays of one solve, n×m unless noted: all but the returned plan, which only the
 * WebAssembly kernels keep here (and which is copied out at the end).
 */
interface Workspace {
  readonly n: number;
  readonly m: number;
  readonly constC: Float64Array;
  readonly mf: Float64Array;
  readonly mfc: Float64Array;
  readonly gc: Float64Array;
  readonly pg: Float64Array;
  readonly x: Float64Array;
  readonly xVertex: Float64Array;
  /** Support of xVertex: at most n + m entries (see ExactTransport.support). */
  readonly xSupport: Int32Array;
  readonly changedRow: Uint8Array;
  readonly mi: Float64Array;
  readonly scratch: ProductScratch;
  readonly c1p: Float64Array;
  readonly c2q: Float64Array;
  /** constC[i,j] = rowTerm[i] + colTerm[j] (see fillConstC). */
  readonly rowTerm: Float64Array;
  readonly colTerm: Float64Array;
  /**
   * The WebAssembly kernels, whose memory then holds constC, mf, mfc, gc, pg, x, mi, rowTerm,
   * colTerm, c1p, c2q, scratch.tmp, the plan and copies of the inputs they read (null: JavaScript
   * loops on ordinary or shared arrays).
   */
  readonly cg: CgMemory | null;
}

/**
 * The last single-threaded solve's workspace, reused by the next solve of the same size: at
 * n = m = 100 allocating a dozen n×m arrays costs about a tenth of the solve. Solves run one at a
 * time on a thread, so one spare is enough; every array is fully rewritten before it is read.
 */
let spareWorkspace: Workspace | undefined;

function takeWorkspace(n: number, m: number, shared: boolean): Workspace {
  const spare = spareWorkspace;
  if (!shared && spare?.n === n && spare.m === m) {
    spareWorkspace = undefined;
    return spare;
  }
  const nm = n * m;
  // A new layout of the kernels' memory invalidates the spare's arrays: it is dropped.
  spareWorkspace = undefined;
  const cg = shared ? null : CgMemory.acquire(n, m);
  const common = {
    n,
    m,
    xVertex: new Float64Array(nm),
    xSupport: new Int32Array(n + m + 1),
    changedRow: new Uint8Array(n),
    // The kernels' sparse half product leaves tmp in their memory.
    scratch: productScratch(n, m, shared, cg?.tmp),
  };
  if (cg) {
    const { constC, mf, mfc, gc, pg, x, mi, c1p, c2q, rowTerm, colTerm } = cg;
    return { ...common, constC, mf, mfc, gc, pg, x, mi, c1p, c2q, rowTerm, colTerm, cg };
  }
  return {
    ...common,
    constC: new Float64Array(nm),
    mf: new Float64Array(nm),
    mfc: new Float64Array(nm),
    gc: new Float64Array(nm),
    pg: new Float64Array(nm),
    x: shared ? sharedFloat64(nm) : new Float64Array(nm),
    mi: new Float64Array(nm),
    c1p: new Float64Array(n),
    c2q: new Float64Array(m),
    rowTerm: new Float64Array(n),
    colTerm: new Float64Array(m),
    cg: null,
  };
}
