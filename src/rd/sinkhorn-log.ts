/** Buffers for {@link sinkhornLog}, allocated once per entropic solve. */
export interface SinkhornWorkspace {
  readonly logA: Float64Array;
  readonly logB: Float64Array;
  readonly f: Float64Array;
  readonly g: Float64Array;
  readonly fPrev: Float64Array;
  readonly gPrev: Float64Array;
  readonly colMax: Float64Array;
  readonly colSum: Float64Array;
  readonly kernel: Float64Array;
}

export function sinkhornWorkspace(a: Float64Array, b: Float64Array): SinkhornWorkspace {
  const n = a.length;
  const m = b.length;
  return {
    logA: a.map(Math.log),
    logB: b.map(Math.log),
    f: new Float64Array(n),
    g: new Float64Array(m),
    fPrev: new Float64Array(n),
    gPrev: new Float64Array(m),
    colMax: new Float64Array(m),
    colSum: new Float64Array(m),
    kernel: new Float64Array(n * m),
  };
}

/**
 * Entropic OT plan for cost `cost` (n×m) and regularisation `eps`, written into `plan`.
 *
 * Same iterates as POT's `sinkhorn_knopp` (v = b / Kᵀu, u = a / K v, starting from u = 1/n,
 * column-marginal error tested every 10th iteration) but in the log domain, f = log u and
 * g = log v with log-sum-exp reductions, so that exp(−cost/eps) never underflows: POT's kernel
 * form fails once cost/eps exceeds ~745. Returns the iterations run and whether the marginal
 * test passed.
 */
export function sinkhornLog(
  cost: Float64Array,
  eps: number,
  w: SinkhornWorkspace,
  maxIter: number,
  stopThr: number,
  plan: Float64Array,
): { iterations: number; converged: boolean } {
  const n = w.f.length;
  const m = w.g.length;
  const { f, g, kernel, colMax, colSum, logA, logB } = w;
  for (let k = 0; k < n * m; k++) kernel[k] = -cost[k]! / eps;
  f.fill(-Math.log(n));
  let converged = false;
  let it = 0;
  for (; it < maxIter; it++) {
    w.fPrev.set(f);
    w.gPrev.set(g);
    // g_j = log b_j − LSE_i(f_i + K_ij)
    columnLse(kernel, f, n, m, colMax, colSum);
    for (let j = 0; j < m; j++) g[j] = logB[j]! - colSum[j]!;
    // f_i = log a_i − LSE_j(g_j + K_ij)
    let bad = false;
    for (let i = 0; i < n; i++) {
      const row = i * m;
      let mx = -Infinity;
      for (let j = 0; j < m; j++) {
        const v = g[j]! + kernel[row + j]!;
        if (v > mx) mx = v;
      }
      let s = 0;
      if (mx > -Infinity) for (let j = 0; j < m; j++) s += Math.exp(g[j]! + kernel[row + j]! - mx);
      f[i] = logA[i]! - (mx + Math.log(s));
      if (Number.isNaN(f[i]!)) bad = true;
    }
    if (bad) {
      f.set(w.fPrev);
      g.set(w.gPrev);
      break;
    }
    if (it % 10 === 0) {
      // Column marginal of the current plan: exp(g_j + LSE_i(f_i + K_ij)).
      columnLse(kernel, f, n, m, colMax, colSum);
      let err = 0;
      for (let j = 0; j < m; j++) {
        const d = Math.exp(g[j]! + colSum[j]!) - Math.exp(logB[j]!);
        err += d * d;
      }
      if (Math.sqrt(err) < stopThr) {
        converged = true;
        break;
      }
    }
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) plan[i * m + j] = Math.exp(f[i]! + g[j]! + kernel[i * m + j]!);
  }
  return { iterations: Math.min(it + 1, maxIter), converged };
}

/** colSum_j = LSE_i(f_i + K_ij), scanning K row by row (cache-friendly). */
function columnLse(
  kernel: Float64Array,
  f: Float64Array,
  n: number,
  m: number,
  colMax: Float64Array,
  colSum: Float64Array,
): void {
  colMax.fill(-Infinity);
  for (let i = 0; i < n; i++) {
    const fi = f[i]!;
    const row = i * m;
    for (let j = 0; j < m; j++) {
      const v = fi + kernel[row + j]!;
      if (v > colMax[j]!) colMax[j] = v;
    }
  }
  colSum.fill(0);
  for (let i = 0; i < n; i++) {
    const fi = f[i]!;
    const row = i * m;
    for (let j = 0; j < m; j++) colSum[j] = colSum[j]! + Math.exp(fi + kernel[row + j]! - colMax[j]!);
  }
  for (let j = 0; j < m; j++)
    colSum[j] = colMax[j]! === -Infinity ? -Infinity : colMax[j]! + Math.log(colSum[j]!);
}
