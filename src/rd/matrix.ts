/**
 * Dense row-major matrices on Float64Array and the few kernels FGW needs.
 * Kernels write into caller-owned buffers so that solver loops never allocate.
 */

/** A dense row-major matrix: entry (i, j) is `data[i * cols + j]`. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

/** A matrix as nested arrays (`rows[i][j]`) or as a {@link Matrix}. */
export type MatrixInput = readonly (readonly number[])[] | Matrix;

/** A vector as an array or a Float64Array. */
export type VectorInput = readonly number[] | Float64Array;

export function isMatrix(value: unknown): value is Matrix {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    (value as Matrix).data instanceof Float64Array &&
    typeof (value as Matrix).rows === 'number' &&
    typeof (value as Matrix).cols === 'number'
  );
}

/** Copies a nested array into a new row-major {@link Matrix} (no validation beyond shape). */
export function matrixFromRows(rows: readonly (readonly number[])[]): Matrix {
  const r = rows.length;
  const c = r === 0 ? 0 : (rows[0]?.length ?? 0);
  const data = new Float64Array(r * c);
  for (let i = 0; i < r; i++) {
    const row = rows[i] ?? [];
    for (let j = 0; j < c; j++) {
      const v = row[j];
      data[i * c + j] = typeof v === 'number' ? v : NaN;
    }
  }
  return { rows: r, cols: c, data };
}

/** Converts a row-major matrix back to nested arrays (for JSON output). */
export function matrixToRows(m: Matrix): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < m.rows; i++) out.push(Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)));
  return out;
}

/**
 * out (n×m) = A (n×kk) · B (kk×m), all row-major, summing over k in increasing order (so both
 * kernels round identically). Mostly-dense A uses a 4×4 register-blocked kernel;
 * sparse A (adjacency structures) skips zero entries row by row. `nz` is scratch of length ≥ kk.
 * With `accumulate`, adds A·B to `out` instead of overwriting it.
 */
export function gemm(
  a: Float64Array,
  b: Float64Array,
  out: Float64Array,
  n: number,
  kk: number,
  m: number,
  nz: Int32Array,
  accumulate = false,
): void {
  if (!accumulate) out.fill(0, 0, n * m);
  if (mostlyDense(a, n * kk)) gemmDense(a, b, out, n, kk, m);
  else gemmSparse(a, b, out, n, kk, m, nz);
}

/** Whether more than half of the first `len` entries are non-zero (the dense kernel then pays). */
export function mostlyDense(a: Float64Array, len: number): boolean {
  let nonZero = 0;
  for (let t = 0; t < len; t++) if (a[t] !== 0) nonZero++;
  return nonZero * 2 > len;
}

function gemmDense(
  a: Float64Array,
  b: Float64Array,
  out: Float64Array,
  n: number,
  kk: number,
  m: number,
): void {
  let i = 0;
  for (; i + 3 < n; i += 4) {
    // 4 output rows × 4 rows of B per pass: 16 coefficients stay in registers.
    const r0 = i * kk;
    const r1 = r0 + kk;
    const r2 = r1 + kk;
    const r3 = r2 + kk;
    const o0 = i * m;
    const o1 = o0 + m;
    const o2 = o1 + m;
    const o3 = o2 + m;
    let k = 0;
    for (; k + 3 < kk; k += 4) {
      const a00 = a[r0 + k]!;
      const a01 = a[r0 + k + 1]!;
      const a02 = a[r0 + k + 2]!;
      const a03 = a[r0 + k + 3]!;
      const a10 = a[r1 + k]!;
      const a11 = a[r1 + k + 1]!;
      const a12 = a[r1 + k + 2]!;
      const a13 = a[r1 + k + 3]!;
      const a20 = a[r2 + k]!;
      const a21 = a[r2 + k + 1]!;
      const a22 = a[r2 + k + 2]!;
      const a23 = a[r2 + k + 3]!;
      const a30 = a[r3 + k]!;
      const a31 = a[r3 + k + 1]!;
      const a32 = a[r3 + k + 2]!;
      const a33 = a[r3 + k + 3]!;
      const b0 = k * m;
      const b1 = b0 + m;
      const b2 = b1 + m;
      const b3 = b2 + m;
      for (let j = 0; j < m; j++) {
        const x0 = b[b0 + j]!;
        const x1 = b[b1 + j]!;
        const x2 = b[b2 + j]!;
        const x3 = b[b3 + j]!;
        out[o0 + j] = out[o0 + j]! + a00 * x0 + a01 * x1 + a02 * x2 + a03 * x3;
        out[o1 + j] = out[o1 + j]! + a10 * x0 + a11 * x1 + a12 * x2 + a13 * x3;
        out[o2 + j] = out[o2 + j]! + a20 * x0 + a21 * x1 + a22 * x2 + a23 * x3;
        out[o3 + j] = out[o3 + j]! + a30 * x0 + a31 * x1 + a32 * x2 + a33 * x3;
      }
    }
    for (; k < kk; k++) {
      const bk = k * m;
      const c0 = a[r0 + k]!;
      const c1 = a[r1 + k]!;
      const c2 = a[r2 + k]!;
      const c3 = a[r3 + k]!;
      for (let j = 0; j < m; j++) {
        const x = b[bk + j]!;
        out[o0 + j] = out[o0 + j]! + c0 * x;
        out[o1 + j] = out[o1 + j]! + c1 * x;
        out[o2 + j] = out[o2 + j]! + c2 * x;
        out[o3 + j] = out[o3 + j]! + c3 * x;
      }
    }
  }
  for (; i < n; i++) {
    const r0 = i * kk;
    const o0 = i * m;
    for (let k = 0; k < kk; k++) {
      const c = a[r0 + k]!;
      const bk = k * m;
      for (let j = 0; j < m; j++) out[o0 + j] = out[o0 + j]! + c * b[bk + j]!;
    }
  }
}

function gemmSparse(
  a: Float64Array,
  b: Float64Array,
  out: Float64Array,
  n: number,
  kk: number,
  m: number,
  nz: Int32Array,
): void {
  for (let i = 0; i < n; i++) {
    const rowA = i * kk;
    let count = 0;
    for (let k = 0; k < kk; k++) if (a[rowA + k] !== 0) nz[count++] = k;
    const o = i * m;
    let t = 0;
    for (; t + 3 < count; t += 4) {
      const k0 = nz[t]!;
      const k1 = nz[t + 1]!;
      const k2 = nz[t + 2]!;
      const k3 = nz[t + 3]!;
      const c0 = a[rowA + k0]!;
      const c1 = a[rowA + k1]!;
      const c2 = a[rowA + k2]!;
      const c3 = a[rowA + k3]!;
      const b0 = k0 * m;
      const b1 = k1 * m;
      const b2 = k2 * m;
      const b3 = k3 * m;
      for (let j = 0; j < m; j++) {
        out[o + j] = out[o + j]! + c0 * b[b0 + j]! + c1 * b[b1 + j]! + c2 * b[b2 + j]! + c3 * b[b3 + j]!;
      }
    }
    for (; t < count; t++) {
      const k = nz[t]!;
      const c = a[rowA + k]!;
      const bk = k * m;
      for (let j = 0; j < m; j++) out[o + j] = out[o + j]! + c * b[bk + j]!;
    }
  }
}

/** Source of the product kernels, for the helper thread of parallel-gemm.ts (same code, same rounding). */
export function gemmRowKernels(): string {
  return [gemm, mostlyDense, gemmDense, gemmSparse].map((f) => f.toString()).join('\n');
}

/** Frobenius inner product ⟨A, B⟩ over the first `len` entries. */
export function frobenius(a: Float64Array, b: Float64Array, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * Squared Euclidean distances between the rows of F1 (n×d) and F2 (m×d), as POT's `ot.dist`.
 * Each entry is Σ_k (F1[i,k] − F2[j,k])² summed in increasing k; four entries are formed together
 * so that their four dependent sums overlap (about twice as fast in V8 for small d).
 */
export function sqeuclidean(f1: Matrix, f2: Matrix): Matrix {
  const n = f1.rows;
  const m = f2.rows;
  const d = f1.cols;
  const data = new Float64Array(n * m);
  const a = f1.data;
  const b = f2.data;
  for (let i = 0; i < n; i++) {
    const rowA = i * d;
    const out = i * m;
    let j = 0;
    for (; j + 3 < m; j += 4) {
      const r0 = j * d;
      const r1 = r0 + d;
      const r2 = r1 + d;
      const r3 = r2 + d;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let k = 0; k < d; k++) {
        const ak = a[rowA + k]!;
        const e0 = ak - b[r0 + k]!;
        const e1 = ak - b[r1 + k]!;
        const e2 = ak - b[r2 + k]!;
        const e3 = ak - b[r3 + k]!;
        s0 += e0 * e0;
        s1 += e1 * e1;
        s2 += e2 * e2;
        s3 += e3 * e3;
      }
      data[out + j] = s0;
      data[out + j + 1] = s1;
      data[out + j + 2] = s2;
      data[out + j + 3] = s3;
    }
    for (; j < m; j++) {
      const rowB = j * d;
      let s = 0;
      for (let k = 0; k < d; k++) {
        const diff = a[rowA + k]! - b[rowB + k]!;
        s += diff * diff;
      }
      data[out + j] = s;
    }
  }
  return { rows: n, cols: m, data };
}

/**
 * out[i] = Σ_k a[i·n + k]·x[k] for a row-major n×n `a` (with `squared`, Σ_k (a[i·n + k]·a[i·n + k])·x[k]),
 * each sum in increasing k. Four rows are summed together so that their four dependent additions
 * overlap: V8 runs a lone reduction at one add latency per term, this at about a quarter of that.
 */
export function rowSums(
  a: Float64Array,
  x: Float64Array,
  n: number,
  out: Float64Array,
  squared: boolean,
): void {
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const r0 = i * n;
    const r1 = r0 + n;
    const r2 = r1 + n;
    const r3 = r2 + n;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    if (squared) {
      for (let k = 0; k < n; k++) {
        const xk = x[k]!;
        const a0 = a[r0 + k]!;
        const a1 = a[r1 + k]!;
        const a2 = a[r2 + k]!;
        const a3 = a[r3 + k]!;
        s0 += a0 * a0 * xk;
        s1 += a1 * a1 * xk;
        s2 += a2 * a2 * xk;
        s3 += a3 * a3 * xk;
      }
    } else {
      for (let k = 0; k < n; k++) {
        const xk = x[k]!;
        s0 += a[r0 + k]! * xk;
        s1 += a[r1 + k]! * xk;
        s2 += a[r2 + k]! * xk;
        s3 += a[r3 + k]! * xk;
      }
    }
    out[i] = s0;
    out[i + 1] = s1;
    out[i + 2] = s2;
    out[i + 3] = s3;
  }
  for (; i < n; i++) {
    const r = i * n;
    let s = 0;
    if (squared) for (let k = 0; k < n; k++) s += a[r + k]! * a[r + k]! * x[k]!;
    else for (let k = 0; k < n; k++) s += a[r + k]! * x[k]!;
    out[i] = s;
  }
}

/**
 * Sum with numpy's pairwise summation (blocks of 8 partial sums, split above 128 items), so that
 * weight rescaling rounds exactly as POT's `b * a.sum() / b.sum()` does.
 */
export function pairwiseSum(x: Float64Array, start = 0, len = x.length): number {
  if (len < 8) {
    let s = 0;
    for (let i = 0; i < len; i++) s += x[start + i]!;
    return s;
  }
  if (len <= 128) {
    let r0 = x[start]!,
      r1 = x[start + 1]!,
      r2 = x[start + 2]!,
      r3 = x[start + 3]!;
    let r4 = x[start + 4]!,
      r5 = x[start + 5]!,
      r6 = x[start + 6]!,
      r7 = x[start + 7]!;
    let i = 8;
    for (; i < len - (len % 8); i += 8) {
      const o = start + i;
      r0 += x[o]!;
      r1 += x[o + 1]!;
      r2 += x[o + 2]!;
      r3 += x[o + 3]!;
      r4 += x[o + 4]!;
      r5 += x[o + 5]!;
      r6 += x[o + 6]!;
      r7 += x[o + 7]!;
    }
    let res = r0 + r1 + (r2 + r3) + (r4 + r5 + (r6 + r7));
    for (; i < len; i++) res += x[start + i]!;
    return res;
  }
  let n2 = Math.floor(len / 2);
  n2 -= n2 % 8;
  return pairwiseSum(x, start, n2) + pairwiseSum(x, start + n2, len - n2);
}
