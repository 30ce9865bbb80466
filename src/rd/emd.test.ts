import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExactTransport } from './emd.js';
import { permutation, rng } from './fixtures/test-helpers.js';

/** Exact OT for uniform n = n weights: by Birkhoff, the best permutation (n ≤ 7). */
function bestAssignment(cost: Float64Array, n: number): number {
  let best = Infinity;
  const perm = Array.from({ length: n }, (_, i) => i);
  const visit = (k: number, acc: number): void => {
    if (acc >= best) return;
    if (k === n) {
      best = acc;
      return;
    }
    for (let i = k; i < n; i++) {
      [perm[k], perm[i]] = [perm[i]!, perm[k]!];
      visit(k + 1, acc + cost[k * n + perm[k]!]!);
      [perm[k], perm[i]] = [perm[i]!, perm[k]!];
    }
  };
  visit(0, 0);
  return best / n;
}

function planCost(cost: Float64Array, plan: Float64Array): number {
  let s = 0;
  for (let k = 0; k < cost.length; k++) s += cost[k]! * plan[k]!;
  return s;
}

describe('exact OT (network simplex)', () => {
  it('matches brute-force assignment on uniform square problems (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7 }), fc.integer(), (n, seed) => {
        const rand = rng(seed);
        const cost = Float64Array.from({ length: n * n }, () => Math.round(rand() * 20) / 4); // many ties
        const w = new Float64Array(n).fill(1 / n);
        const plan = new Float64Array(n * n);
        const emd = new ExactTransport(w, w);
        expect(emd.solve(cost, plan)).toBe('optimal');
        expect(planCost(cost, plan)).toBeCloseTo(bestAssignment(cost, n), 12);
      }),
      { numRuns: 150, seed: 1 },
    );
  });

  it('returns a vertex: couplings with at most n + m − 1 non-zeros and exact marginals', () => {
    const rand = rng(3);
    for (const [n, m] of [
      [5, 9],
      [17, 4],
      [40, 33],
    ] as const) {
      const a = Float64Array.from({ length: n }, () => rand() + 0.1);
      const b = Float64Array.from({ length: m }, () => rand() + 0.1);
      const sa = a.reduce((x, y) => x + y, 0);
      const sb = b.reduce((x, y) => x + y, 0);
      a.forEach((v, i) => (a[i] = v / sa));
      b.forEach((v, j) => (b[j] = v / sb));
      const cost = Float64Array.from({ length: n * m }, () => rand());
      const plan = new Float64Array(n * m);
      const emd = new ExactTransport(a, b);
      expect(emd.solve(cost, plan)).toBe('optimal');
      expect(emd.supportSize).toBeLessThanOrEqual(n + m - 1);
      for (let i = 0; i < n; i++)
        expect(plan.subarray(i * m, (i + 1) * m).reduce((x, y) => x + y, 0)).toBeCloseTo(a[i]!, 12);
      // Warm start from the previous basis gives the same optimum for new costs.
      const cost2 = Float64Array.from({ length: n * m }, () => rand());
      const warm = new Float64Array(n * m);
      const cold = new Float64Array(n * m);
      emd.solve(cost2, warm, undefined, true);
      new ExactTransport(a, b).solve(cost2, cold);
      expect(planCost(cost2, warm)).toBeCloseTo(planCost(cost2, cold), 12);
    }
  });

  it('skips zero-mass nodes and is invariant to relabelling in value', () => {
    const a = Float64Array.from([0.5, 0, 0.5]);
    const b = Float64Array.from([0.25, 0.25, 0.5, 0]);
    const cost = Float64Array.from([1, 2, 3, 4, 9, 9, 9, 9, 3, 1, 2, 0]);
    const plan = new Float64Array(12);
    const emd = new ExactTransport(a, b);
    expect(emd.solve(cost, plan)).toBe('optimal');
    expect(plan.subarray(4, 8).every((v) => v === 0)).toBe(true);
    expect(plan[3]! + plan[7]! + plan[11]!).toBe(0);
    const perm = permutation(3, rng(5));
    const relabelled = new ExactTransport(a, b, Int32Array.from(perm), Int32Array.from([3, 2, 1, 0]));
    const plan2 = new Float64Array(12);
    relabelled.solve(cost, plan2);
    expect(planCost(cost, plan2)).toBeCloseTo(planCost(cost, plan), 14);
    expect(planCost(cost, plan)).toBeCloseTo(1.75, 14); // e.g. 0→0, 0→1 and 2→2
  });
});
