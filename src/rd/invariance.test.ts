import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fgwDistance, fusedGromovWasserstein, shortestPathMatrix } from './index.js';
import type { FgwProblem } from './index.js';
import { parallelStats } from './parallel-gemm.js';
import { loadCases, marginalError, permutation, rng } from './fixtures/test-helpers.js';

const cases = loadCases();

/** Relabels the target graph: node k becomes node perm[k]. */
function permuteTarget(pb: { C2: number[][]; M: number[][]; q: number[] }, perm: number[]) {
  const m = perm.length;
  const inv = new Array<number>(m);
  perm.forEach((to, from) => (inv[to] = from));
  return {
    C2: inv.map((a) => inv.map((b) => pb.C2[a]![b]!)),
    M: pb.M.map((row) => inv.map((b) => row[b]!)),
    q: inv.map((b) => pb.q[b]!),
  };
}

/** A random connected graph with continuous features, for property tests. */
function randomProblem(n: number, m: number, seed: number, alpha: number): { pb: FgwProblem; alpha: number } {
  const rand = rng(seed);
  const graph = (k: number) => {
    const edges: [number, number][] = [];
    for (let v = 1; v < k; v++) edges.push([v, Math.floor(rand() * v)]);
    for (let u = 0; u < k; u++) for (let v = u + 1; v < k; v++) if (rand() < 3 / k) edges.push([u, v]);
    return shortestPathMatrix(k, edges);
  };
  const feats = (k: number) => Array.from({ length: k }, () => [rand() * 2 - 1, rand() * 2 - 1]);
  const weights = (k: number) => {
    const w = Array.from({ length: k }, () => rand() + 0.5);
    const s = w.reduce((a, b) => a + b, 0);
    return w.map((v) => v / s);
  };
  return {
    pb: {
      structure1: graph(n),
      structure2: graph(m),
      features1: feats(n),
      features2: feats(m),
      weights1: weights(n),
      weights2: weights(m),
    },
    alpha,
  };
}

describe('FGW invariances', () => {
  it('relabelling the nodes of one graph leaves the distance unchanged (robust reference cases)', () => {
    const rand = rng(7);
    for (const c of cases.fgw_cases.filter((x) => x.crosscheck.robust_to_lp_ties && x.n <= 30)) {
      const base = fusedGromovWasserstein(
        { structure1: c.C1, structure2: c.C2, cost: c.M, weights1: c.p, weights2: c.q },
        { alpha: c.alpha },
      );
      const perm = permutation(c.m, rand);
      const t = permuteTarget(c, perm);
      const moved = fusedGromovWasserstein(
        { structure1: c.C1, structure2: t.C2, cost: t.M, weights1: c.p, weights2: t.q },
        { alpha: c.alpha },
      );
      expect(Math.abs(moved.distance - base.distance)).toBeLessThan(1e-9 * Math.max(1, base.distance));
      // The plan moves with the labels: T'[i][perm[j]] = T[i][j].
      for (let i = 0; i < c.n; i++) {
        for (let j = 0; j < c.m; j++) {
          expect(moved.coupling.data[i * c.m + perm[j]!]!).toBeCloseTo(base.coupling.data[i * c.m + j]!, 9);
        }
      }
    }
  });

  it('relabelling random graphs with continuous features leaves the distance unchanged (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 12 }),
        fc.integer({ min: 3, max: 12 }),
        fc.integer(),
        fc.constantFrom(0.1, 0.5, 0.9),
        (n, m, seed, alpha) => {
          const { pb } = randomProblem(n, m, seed, alpha);
          const base = fusedGromovWasserstein(pb, { alpha });
          const perm = permutation(m, rng(seed + 1));
          const inv = new Array<number>(m);
          perm.forEach((to, from) => (inv[to] = from));
          const c2 = pb.structure2 as number[][];
          const f2 = pb.features2 as number[][];
          const q = pb.weights2 as number[];
          const moved = fusedGromovWasserstein(
            {
              ...pb,
              structure2: inv.map((a) => inv.map((b) => c2[a]![b]!)),
              features2: inv.map((b) => f2[b]!),
              weights2: inv.map((b) => q[b]!),
            },
            { alpha },
          );
          expect(Math.abs(moved.distance - base.distance)).toBeLessThan(1e-9 * Math.max(1, base.distance));
          expect(marginalError(base.coupling.data, pb.weights1 as number[], q)).toBeLessThan(1e-9);
          expect(base.distance).toBeGreaterThanOrEqual(-1e-12);
        },
      ),
      { numRuns: 60, seed: 42 },
    );
  });

  it('a graph against itself has distance 0 (alpha = 1, and identical features at any alpha)', () => {
    for (const c of cases.fgw_cases.filter((x) => x.n <= 30)) {
      for (const alpha of [1, 0.5, 0]) {
        const r = fusedGromovWasserstein(
          { structure1: c.C1, structure2: c.C1, features1: c.F1, features2: c.F1 },
          { alpha },
        );
        expect(Math.abs(r.distance)).toBeLessThan(1e-12);
        expect(
          marginalError(r.coupling.data, new Array(c.n).fill(1 / c.n), new Array(c.n).fill(1 / c.n)),
        ).toBeLessThan(1e-12);
      }
    }
    const g = {
      nodes: 6,
      edges: [
        [0, 1],
        [1, 2],
        [2, 3],
        [3, 4],
        [4, 5],
        [5, 0],
        [0, 3],
      ] as [number, number][],
    };
    expect(Math.abs(fgwDistance(g, g, { alpha: 1 }).distance)).toBeLessThan(1e-12);
  });

  it('the entropic plan converges to an exact one as epsilon shrinks', () => {
    const c = cases.entropic_fgw_cases[0]!;
    const pb = { structure1: c.C1, structure2: c.C2, cost: c.M, weights1: c.p, weights2: c.q };
    const coarse = fusedGromovWasserstein(pb, { alpha: 0.5, epsilon: 0.1 }).distance;
    const fine = fusedGromovWasserstein(pb, { alpha: 0.5, epsilon: 0.01, sinkhornMaxIter: 5000 }).distance;
    const exact = fusedGromovWasserstein(pb, { alpha: 0.5 }).distance;
    expect(Math.abs(fine - exact)).toBeLessThan(Math.abs(coarse - exact));
  });
});

describe('two-thread products', () => {
  it('give bit-identical results to one thread (n = m = 180, above the parallel threshold)', () => {
    const { pb } = randomProblem(180, 180, 99, 0.5);
    const one = fusedGromovWasserstein(pb, { alpha: 0.5 });
    const two = fusedGromovWasserstein(pb, { alpha: 0.5, threads: 2 });
    expect(two.distance).toBe(one.distance);
    expect(two.iterations).toBe(one.iterations);
    expect(
      Buffer.from(two.coupling.data.buffer, two.coupling.data.byteOffset, two.coupling.data.byteLength),
    ).toEqual(
      Buffer.from(one.coupling.data.buffer, one.coupling.data.byteOffset, one.coupling.data.byteLength),
    );
    // The two-thread path ran (each half done by the helper, or taken back when it was busy).
    expect(parallelStats.helped + parallelStats.reclaimed).toBeGreaterThan(0);
    const entropic = fusedGromovWasserstein(pb, { alpha: 0.5, epsilon: 0.5, maxIter: 3, threads: 2 });
    expect(entropic.distance).toBe(
      fusedGromovWasserstein(pb, { alpha: 0.5, epsilon: 0.5, maxIter: 3 }).distance,
    );
  });
});
