import { describe, expect, it } from 'vitest';
import { rng } from './fixtures/test-helpers.js';
import { gemm } from './matrix.js';
import { wasmGemm } from './wasm-gemm.js';

describe('WebAssembly kernels', () => {
  it('the SIMD product equals the JavaScript one bit for bit (odd sizes, accumulate)', () => {
    const rand = rng(19);
    for (const [n, kk, m] of [
      [30, 30, 30],
      [31, 29, 33],
      [33, 31, 27],
      [1, 100, 200],
      [200, 1, 300],
      [400, 100, 1],
      [5, 4000, 3],
      [57, 3, 99],
    ] as const) {
      for (const accumulate of [false, true]) {
        const a = Float64Array.from({ length: n * kk }, () => rand() - 0.5);
        const b = Float64Array.from({ length: kk * m }, () => rand() - 0.5);
        const js = Float64Array.from({ length: n * m }, () => rand());
        const wasm = Float64Array.from(js);
        gemm(a, b, js, n, kk, m, new Int32Array(kk), accumulate);
        expect(wasmGemm(a, b, wasm, n, kk, m, accumulate)).toBe(true);
        expect(wasm).toEqual(js);
      }
    }
  });

  it('leaves small products to JavaScript', () => {
    const out = new Float64Array(4);
    expect(wasmGemm(new Float64Array(4), new Float64Array(4), out, 2, 2, 2, false)).toBe(false);
  });
});
