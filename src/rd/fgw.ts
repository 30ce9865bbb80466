import { solveConditionalGradient } from './conditional-gradient.js';
import { solveEntropic } from './entropic.js';
import { compileFgwOptions } from './options.js';
import type { CompiledFgwOptions, FgwOptions } from './options.js';
import { compileProblem } from './problem.js';
import type { CompiledProblem, FgwProblem } from './problem.js';
import type { FgwResult } from './result.js';

/**
 * Fused Gromov-Wasserstein between two attributed graphs with the square loss (Vayer et al.,
 * 2019), following POT's `ot.gromov.fused_gromov_wasserstein2`:
 *
 *   min_{T ∈ Π(p, q)} (1 − α)·⟨M, T⟩ + α·Σ_{i,j,k,l} (C1[i,k] − C2[j,l])²·T[i,j]·T[k,l]
 *
 * With `epsilon` = 0 (default) it runs conditional gradient with exact LP subproblems; with
 * `epsilon` > 0 the entropic variant. Inputs are validated first (`RD_INVALID_GRAPH`,
 * `RD_INVALID_WEIGHTS`, `RD_INVALID_OPTIONS`).
 *
 * @example
 * const path = [[0, 1, 2], [1, 0, 1], [2, 1, 0]];
 * const r = fusedGromovWasserstein(
 *   { structure1: path, structure2: path, features1: [[0], [1], [2]], features2: [[0], [1], [2]] },
 *   { alpha: 0.5 },
 * );
 * r.distance; // ≈ 0: a graph against itself
 */
export function fusedGromovWasserstein(problem: FgwProblem, options: FgwOptions = {}): FgwResult {
  const o = compileFgwOptions(options);
  const pb = compileProblem(problem);
  return o.epsilon > 0 ? solveEntropic(pb, o) : solveExact(pb, o);
}

function solveExact(pb: CompiledProblem, o: CompiledFgwOptions): FgwResult {
  const first = solveConditionalGradient(pb, o);
  if (!first.ties || o.tieRestarts === 0) return first.result;
  let best = first.result;
  for (let r = 1; r <= o.tieRestarts; r++) {
    const run = solveConditionalGradient(pb, o, {
      rows: shuffled(pb.n, r * 7919),
      cols: shuffled(pb.m, r * 104_729),
    });
    if (run.result.distance < best.distance) best = run.result;
  }
  return { ...best, tieRestarts: o.tieRestarts };
}

/** A deterministic permutation of 0..n-1 (Fisher-Yates driven by a 32-bit LCG). */
function shuffled(n: number, seed: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  let s = seed >>> 0;
  for (let i = n - 1; i > 0; i--) {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    const j = s % (i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}
