import { describe, expect, it } from 'vitest';
import { rng } from './fixtures/test-helpers.js';
import { fusedGromovWasserstein } from './fgw.js';
import { gemm } from './matrix.js';
import { NetworkSimplex } from './network-simplex.js';
import { wasmGemm } from './wasm-gemm.js';

/** Solves one OT problem cold, then warm on perturbed costs, and returns what the solver left. */
function simplexRun(n: number, m: number, costs: Float64Array[], webAssembly: boolean, maxIter = 100_000) {
  const simplex = new NetworkSimplex(n, m, webAssembly);
  const a = new Float64Array(n).fill(1 / n);
  const b = new Float64Array(m).fill(1 / m);
  simplex.reset(a, n, b, m);
  simplex.mapArcs(
    m,
    Int32Array.from({ length: n }, (_, i) => i),
    Int32Array.from({ length: m }, (_, j) => j),
  );
  const runs = costs.map((cost, r) => {
    simplex.setCosts(cost, r === 0 ? 0 : -0.25);
    const status = r === 0 ? simplex.run(maxIter) : simplex.rerun(maxIter);
    const plan = new Float64Array(n * m);
    const support = new Int32Array(n + m);
    const size = simplex.writeFlow(plan, support);
    return {
      status,
      iterations: simplex.iterations,
      plan,
      support: support.slice(0, size),
      ties: simplex.hasTies(1e-9),
    };
  });
  simplex.release();
  return runs;
}

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

  it('the network simplex pivots as its JavaScript version, bit for bit (cold, warm, ties)', () => {
    const rand = rng(23);
    for (const [n, m] of [
      [50, 50],
      [60, 41],
      [37, 90],
    ] as const) {
      // Integer costs give many ties and degenerate pivots; real ones the generic case.
      for (const integer of [false, true]) {
        const base = Float64Array.from({ length: n * m }, () => (integer ? Math.floor(rand() * 5) : rand()));
        const costs = [0, 1, 2].map((r) =>
          r === 0 ? base : base.map((c) => c + (integer ? Math.floor(rand() * 2) : 0.1 * rand())),
        );
        const wasm = simplexRun(n, m, costs, true);
        const js = simplexRun(n, m, costs, false);
        expect(wasm).toEqual(js);
        expect(wasm[0]!.iterations).toBeGreaterThan(n); // the cold solve pivoted
        // Out of pivots part way: the same partial plan.
        const partial = simplexRun(n, m, costs, true, 40);
        expect(partial[0]!.status).toBe('max-iter');
        expect(partial).toEqual(simplexRun(n, m, costs, false, 40));
      }
    }
  });

  it('conditional gradient: the WebAssembly passes give the plan of the JavaScript ones', () => {
    // Two threads on a problem this large take shared buffers and the JavaScript passes.
    const rand = rng(29);
    const n = 170;
    const structure = (): number[][] => {
      const x = Array.from({ length: n }, () => rand());
      return x.map((xi) => x.map((xj) => Math.abs(xi - xj)));
    };
    const features = (): number[][] => Array.from({ length: n }, () => [rand(), rand()]);
    const problem = {
      structure1: structure(),
      structure2: structure(),
      features1: features(),
      features2: features(),
    };
    const one = fusedGromovWasserstein(problem, { alpha: 0.5, threads: 1, tieRestarts: 0 });
    const two = fusedGromovWasserstein(problem, { alpha: 0.5, threads: 2, tieRestarts: 0 });
    expect(one.iterations).toBeGreaterThan(1);
    expect(two).toEqual(one);
  });

  it('leaves small products to JavaScript', () => {
    const out = new Float64Array(4);
    expect(wasmGemm(new Float64Array(4), new Float64Array(4), out, 2, 2, 2, false)).toBe(false);
  });
});
