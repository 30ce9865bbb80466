import { rowSums } from './matrix.js';
import { parallelGemm, sharedFloat64 } from './parallel-gemm.js';

/**
 * Square-loss decomposition of Peyré, Cuturi & Solomon (2016, Prop. 1):
 * Σ_kl (C1[i,k] − C2[j,l])²·T[k,l] = constC[i,j] − 2·(C1·T·C2)[i,j] for any T with marginals
 * (p, q), where constC[i,j] = Σ_k C1[i,k]²·p_k + Σ_l C2[j,l]²·q_l. This is what makes one FGW
 * iteration O(n²m + nm²) instead of O(n²m²).
 */
export function fillConstC(
  c1: Float64Array,
  c2: Float64Array,
  p: Float64Array,
  q: Float64Array,
  n: number,
  m: number,
  out: Float64Array,
): void {
  const rowTerm = new Float64Array(n);
  const colTerm = new Float64Array(m);
  fillConstTerms(c1, c2, p, q, n, m, rowTerm, colTerm);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) out[i * m + j] = rowTerm[i]! + colTerm[j]!;
}

/** The two terms of constC[i,j] = rowTerm[i] + colTerm[j] (see {@link fillConstC}). */
export function fillConstTerms(
  c1: Float64Array,
  c2: Float64Array,
  p: Float64Array,
  q: Float64Array,
  n: number,
  m: number,
  rowTerm: Float64Array,
  colTerm: Float64Array,
): void {
  // Σ_k C1[i,k]²·p_k and Σ_l q_l·C2[j,l]² (the same products: multiplication commutes exactly).
  rowSums(c1, p, n, rowTerm, true);
  rowSums(c2, q, m, colTerm, true);
}

/** Scratch buffers for {@link structureProduct}, allocated once per solve. */
export interface ProductScratch {
  readonly tmp: Float64Array;
  readonly nz: Int32Array;
  /** C1 columns gathered for an incremental update (n × n at most). */
  readonly gather: Float64Array;
  readonly rows: Int32Array;
}

/**
 * With `shared`, buffers live on SharedArrayBuffers so that products can use two threads. `tmp`,
 * when given (n·m entries), is used instead of a new one.
 */
export function productScratch(n: number, m: number, shared = false, tmp?: Float64Array): ProductScratch {
  const alloc = (len: number) => (shared ? sharedFloat64(len) : new Float64Array(len));
  return {
    tmp: tmp ?? alloc(n * m),
    nz: new Int32Array(Math.max(n, m)),
    gather: alloc(n * n),
    rows: new Int32Array(n),
  };
}

/**
 * out = C1 · T · C2 for a dense n×m T, choosing the cheaper association: two dense products,
 * n·m² + n²·m multiply-adds, with zero entries of C1/T skipped (two threads when all buffers
 * are shared, see parallel-gemm.ts).
 */
export function structureProduct(
  c1: Float64Array,
  c2: Float64Array,
  t: Float64Array,
  n: number,
  m: number,
  scratch: ProductScratch,
  out: Float64Array,
): void {
  parallelGemm(t, c2, scratch.tmp, n, m, m, scratch.nz);
  parallelGemm(c1, scratch.tmp, out, n, n, m, scratch.nz);
}

/**
 * C1·Gc·C2 for a sparse Gc (an LP vertex, given by its support) in two halves. This first half
 * forms tmp = Gc·C2 when n ≤ m, else tmp = C1·Gc, in |support|·max(n, m) operations.
 */
export function sparseHalfProduct(
  c1: Float64Array,
  c2: Float64Array,
  t: Float64Array,
  support: Int32Array,
  size: number,
  n: number,
  m: number,
  tmp: Float64Array,
): void {
  tmp.fill(0, 0, n * m);
  for (let s = 0; s < size; s++) {
    const idx = support[s]!;
    const k = Math.floor(idx / m);
    const l = idx - k * m;
    const v = t[idx]!;
    if (n <= m) {
      // Row k of Gc·C2 gathers rows l of C2.
      const row = k * m;
      const src = l * m;
      for (let j = 0; j < m; j++) tmp[row + j] = tmp[row + j]! + v * c2[src + j]!;
    } else {
      // Column l of C1·Gc gathers columns k of C1.
      for (let i = 0; i < n; i++) tmp[i * m + l] = tmp[i * m + l]! + v * c1[i * n + k]!;
    }
  }
}

/**
 * ⟨C1·Gc·C2, Gc⟩ from the half product, reading only the support: |support|·min(n, m) operations.
 * Each entry's inner sum runs in increasing k and the entries are added in support order; four
 * entries' inner sums are formed together so that their dependent additions overlap.
 */
export function supportQuadratic(
  c1: Float64Array,
  c2: Float64Array,
  t: Float64Array,
  support: Int32Array,
  size: number,
  n: number,
  m: number,
  tmp: Float64Array,
): number {
  let total = 0;
  let s = 0;
  if (n <= m) {
    // x = Σ_k C1[i,k]·tmp[k,j]
    for (; s + 3 < size; s += 4) {
      const i0 = Math.floor(support[s]! / m);
      const i1 = Math.floor(support[s + 1]! / m);
      const i2 = Math.floor(support[s + 2]! / m);
      const i3 = Math.floor(support[s + 3]! / m);
      const j0 = support[s]! - i0 * m;
      const j1 = support[s + 1]! - i1 * m;
      const j2 = support[s + 2]! - i2 * m;
      const j3 = support[s + 3]! - i3 * m;
      let x0 = 0;
      let x1 = 0;
      let x2 = 0;
      let x3 = 0;
      for (let k = 0; k < n; k++) {
        const row = k * m;
        x0 += c1[i0 * n + k]! * tmp[row + j0]!;
        x1 += c1[i1 * n + k]! * tmp[row + j1]!;
        x2 += c1[i2 * n + k]! * tmp[row + j2]!;
        x3 += c1[i3 * n + k]! * tmp[row + j3]!;
      }
      total += t[support[s]!]! * x0;
      total += t[support[s + 1]!]! * x1;
      total += t[support[s + 2]!]! * x2;
      total += t[support[s + 3]!]! * x3;
    }
  } else {
    // x = Σ_l tmp[i,l]·C2[l,j]
    for (; s + 3 < size; s += 4) {
      const i0 = Math.floor(support[s]! / m);
      const i1 = Math.floor(support[s + 1]! / m);
      const i2 = Math.floor(support[s + 2]! / m);
      const i3 = Math.floor(support[s + 3]! / m);
      const j0 = support[s]! - i0 * m;
      const j1 = support[s + 1]! - i1 * m;
      const j2 = support[s + 2]! - i2 * m;
      const j3 = support[s + 3]! - i3 * m;
      let x0 = 0;
      let x1 = 0;
      let x2 = 0;
      let x3 = 0;
      for (let l = 0; l < m; l++) {
        const row = l * m;
        x0 += tmp[i0 * m + l]! * c2[row + j0]!;
        x1 += tmp[i1 * m + l]! * c2[row + j1]!;
        x2 += tmp[i2 * m + l]! * c2[row + j2]!;
        x3 += tmp[i3 * m + l]! * c2[row + j3]!;
      }
      total += t[support[s]!]! * x0;
      total += t[support[s + 1]!]! * x1;
      total += t[support[s + 2]!]! * x2;
      total += t[support[s + 3]!]! * x3;
    }
  }
  for (; s < size; s++) {
    const idx = support[s]!;
    const i = Math.floor(idx / m);
    const j = idx - i * m;
    let x = 0;
    if (n <= m) for (let k = 0; k < n; k++) x += c1[i * n + k]! * tmp[k * m + j]!;
    else for (let l = 0; l < m; l++) x += tmp[i * m + l]! * c2[l * m + j]!;
    total += t[idx]! * x;
  }
  return total;
}

/** Second half: out = C1·tmp (n ≤ m) or tmp·C2 (n > m), the one dense product, min(n²m, nm²). */
export function completeProduct(
  c1: Float64Array,
  c2: Float64Array,
  n: number,
  m: number,
  scratch: ProductScratch,
  out: Float64Array,
): void {
  if (n <= m) parallelGemm(c1, scratch.tmp, out, n, n, m, scratch.nz);
  else parallelGemm(scratch.tmp, c2, out, n, m, m, scratch.nz);
}

/**
 * Updates x = C1·prev·C2 to C1·next·C2 when the two LP vertices differ in few rows, given as
 * `scratch.rows[0..rowCount)` in increasing order: x += C1[:, K] · ((next − prev)[K, :] · C2),
 * n·|K|·m operations instead of a full product. Consecutive conditional-gradient vertices often
 * share most of their support. Returns false (x untouched) when a full product is cheaper.
 */
export function incrementalProduct(
  c1: Float64Array,
  c2: Float64Array,
  next: Float64Array,
  prev: Float64Array,
  rowCount: number,
  n: number,
  m: number,
  scratch: ProductScratch,
  x: Float64Array,
): boolean {
  const { rows, tmp, gather } = scratch;
  const r = rowCount;
  // The update kernel is as efficient as the full one, so it pays below min(n, m²/n) rows.
  if (r * n * m >= 0.75 * Math.min(n * n * m, n * m * m)) return false;
  if (r === 0) return true;
  tmp.fill(0, 0, r * m);
  for (let t = 0; t < r; t++) {
    const k = rows[t]!;
    const dst = t * m;
    for (let l = 0; l < m; l++) {
      const d = next[k * m + l]! - prev[k * m + l]!;
      if (d === 0) continue;
      const src = l * m;
      for (let j = 0; j < m; j++) tmp[dst + j] = tmp[dst + j]! + d * c2[src + j]!;
    }
  }
  for (let i = 0; i < n; i++) for (let t = 0; t < r; t++) gather[i * r + t] = c1[i * n + rows[t]!]!;
  parallelGemm(gather, tmp, x, n, r, m, scratch.nz, true);
  return true;
}
