import { describe, expect, it } from 'vitest';
import { fusedGromovWasserstein } from './index.js';
import { bruteForceObjective, loadCases, marginalError } from './fixtures/test-helpers.js';
import type { FgwCase } from './fixtures/test-helpers.js';

const cases = loadCases();
const problem = (c: FgwCase) => ({
  structure1: c.C1,
  structure2: c.C2,
  cost: c.M,
  weights1: c.p,
  weights2: c.q,
});
const relErr = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

describe('exact FGW against POT 0.8.2 (cases.json)', () => {
  const robust = cases.fgw_cases.filter((c) => c.crosscheck.robust_to_lp_ties && !c.id.startsWith('fgw13'));

  it('has the reference cases', () => {
    expect(robust.length).toBeGreaterThanOrEqual(8);
  });

  for (const c of robust) {
    it(`${c.id}: distance, plan and iteration count match POT`, () => {
      const r = fusedGromovWasserstein(problem(c), { alpha: c.alpha });
      if (Math.abs(c.expected.fgw_dist) < 1e-12) expect(Math.abs(r.distance)).toBeLessThan(1e-12);
      else expect(relErr(r.distance, c.expected.fgw_dist)).toBeLessThan(1e-9);
      expect(r.iterations).toBe(c.expected.n_iter);
      expect(r.converged).toBe(true);
      expect(r.solver).toBe('conditional-gradient');
      let diff = 0;
      for (let i = 0; i < c.n; i++)
        for (let j = 0; j < c.m; j++)
          diff = Math.max(diff, Math.abs(r.coupling.data[i * c.m + j]! - c.expected.T[i]![j]!));
      expect(diff).toBeLessThan(1e-9);
      expect(marginalError(r.coupling.data, c.p, c.q)).toBeLessThan(1e-9);
      // The reported value is the objective of the reported plan (checked without the Peyré decomposition).
      expect(Math.abs(bruteForceObjective(c, r.coupling.data, c.alpha) - r.distance)).toBeLessThan(
        1e-9 * Math.max(1, r.distance),
      );
      expect(r.featureCost * (1 - c.alpha) + r.structureCost * c.alpha).toBeCloseTo(r.distance, 12);
    });
  }

  it('fgw13 stops at the 200-iteration cap like POT 0.8.2, and reaches upstream POT with a larger cap', () => {
    const c = cases.fgw_cases.find((x) => x.id.startsWith('fgw13'))!;
    const capped = fusedGromovWasserstein(problem(c), { alpha: c.alpha });
    expect(capped.iterations).toBe(200);
    expect(capped.converged).toBe(false);
    expect(relErr(capped.distance, c.expected.fgw_dist)).toBeLessThan(1e-6);
    const head = c.crosscheck.reimpl_head!;
    const full = fusedGromovWasserstein(problem(c), { alpha: c.alpha, maxIter: 10_000 });
    expect(full.converged).toBe(true);
    expect(full.iterations).toBe(head.n_iter);
    expect(relErr(full.distance, head.fgw_dist)).toBeLessThan(1e-9);
  });

  it('fgw07 (tie-sensitive): a valid coupling whose value is no worse than POT', () => {
    const c = cases.fgw_cases.find((x) => x.id.startsWith('fgw07'))!;
    const r = fusedGromovWasserstein(problem(c), { alpha: c.alpha });
    expect(marginalError(r.coupling.data, c.p, c.q)).toBeLessThan(1e-9);
    expect(Math.min(...r.coupling.data)).toBeGreaterThanOrEqual(0);
    expect(r.distance).toBeLessThanOrEqual(c.expected.fgw_dist * (1 + 1e-9));
    expect(r.tieRestarts).toBeGreaterThan(0);
    expect(Math.abs(bruteForceObjective(c, r.coupling.data, 1) - r.distance)).toBeLessThan(1e-9);
    // A single POT-like run has no such guarantee; restarts can only lower the value.
    const single = fusedGromovWasserstein(problem(c), { alpha: c.alpha, tieRestarts: 0 });
    expect(single.tieRestarts).toBe(0);
    expect(r.distance).toBeLessThanOrEqual(single.distance);
  });

  it('alpha = 0 is exact optimal transport on the features (fgw06 = emd2)', () => {
    const c = cases.fgw_cases.find((x) => x.alpha === 0)!;
    const r = fusedGromovWasserstein(problem(c), { alpha: 0 });
    expect(relErr(r.featureCost, c.expected.fgw_dist)).toBeLessThan(1e-9);
    expect(r.distance).toBeCloseTo(r.featureCost, 14);
  });
});

describe('entropic FGW against upstream POT (cases.json)', () => {
  for (const c of cases.entropic_fgw_cases) {
    it(`${c.id}: distance, plan and iteration count`, () => {
      const r = fusedGromovWasserstein(problem(c), { alpha: c.alpha, epsilon: c.epsilon! });
      expect(r.solver).toBe('entropic');
      expect(Math.abs(r.distance - c.expected.fgw_dist)).toBeLessThan(1e-8);
      expect(r.iterations).toBe(c.expected.n_iter);
      expect(r.converged).toBe(true);
      let diff = 0;
      for (let i = 0; i < c.n; i++)
        for (let j = 0; j < c.m; j++)
          diff = Math.max(diff, Math.abs(r.coupling.data[i * c.m + j]! - c.expected.T[i]![j]!));
      expect(diff).toBeLessThan(1e-8);
      expect(marginalError(r.coupling.data, c.p, c.q)).toBeLessThan(1e-8);
    });
  }

  it('stays finite where the kernel form underflows (cost/epsilon ≫ 745)', () => {
    const c = cases.entropic_fgw_cases[0]!;
    const scaled = c.M.map((row) => row.map((v) => v * 1000));
    const r = fusedGromovWasserstein({ ...problem(c), cost: scaled }, { alpha: 0.5, epsilon: 0.05 });
    expect(Number.isFinite(r.distance)).toBe(true);
    expect(r.coupling.data.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    // Each projection ends on the row update, so row sums are exact even when columns still lag.
    for (let i = 0; i < c.n; i++) {
      let s = 0;
      for (let j = 0; j < c.m; j++) s += r.coupling.data[i * c.m + j]!;
      expect(Math.abs(s - c.p[i]!)).toBeLessThan(1e-12);
    }
  });
});
