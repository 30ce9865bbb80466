import { describe, expect, it } from 'vitest';
import { gemm, matrixFromRows, matrixToRows, pairwiseSum, sqeuclidean } from './matrix.js';
import { rng } from './fixtures/test-helpers.js';

describe('dense kernels', () => {
  it('gemm equals the naive k-ascending sum bit for bit, dense or sparse, any shape', () => {
    const rand = rng(11);
    for (const [n, kk, m, density] of [
      [7, 5, 3, 1],
      [13, 13, 9, 1],
      [4, 9, 4, 1],
      [1, 3, 2, 1],
      [33, 30, 31, 0.9],
      [20, 20, 17, 0.2],
    ] as const) {
      const a = Float64Array.from({ length: n * kk }, () => (rand() < density ? rand() : 0));
      const b = Float64Array.from({ length: kk * m }, () => rand() - 0.5);
      const out = new Float64Array(n * m).fill(NaN);
      gemm(a, b, out, n, kk, m, new Int32Array(kk));
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < m; j++) {
          let s = 0;
          for (let k = 0; k < kk; k++) if (a[i * kk + k] !== 0) s += a[i * kk + k]! * b[k * m + j]!;
          expect(out[i * m + j]).toBe(s);
        }
      }
    }
  });

  it('pairwiseSum follows numpy (blocks of 8 above 8 items) and stays exact on integers', () => {
    const x = Float64Array.from({ length: 1000 }, (_, i) => i);
    expect(pairwiseSum(x)).toBe(499500);
    const tenth = new Float64Array(10).fill(0.1);
    // numpy: np.full(10, 0.1).sum() == 1.0 (sequential summation gives 0.9999999999999999).
    expect(pairwiseSum(tenth)).toBe(1);
  });

  it('sqeuclidean is ot.dist’s default metric, and matrices round-trip', () => {
    const d = sqeuclidean(
      matrixFromRows([
        [0, 0],
        [1, 2],
      ]),
      matrixFromRows([[1, 1]]),
    );
    expect(matrixToRows(d)).toEqual([[2], [1]]);
    expect(matrixFromRows([[1, 'x' as never]]).data[1]).toBeNaN();
  });
});
