import { describe, expect, it } from 'vitest';
import { fusedGromovWasserstein } from './index.js';
import type { FgwOptions, FgwProblem } from './index.js';

const path3 = [
  [0, 1, 2],
  [1, 0, 1],
  [2, 1, 0],
];
const ok: FgwProblem = {
  structure1: path3,
  structure2: path3,
  features1: [[0], [1], [2]],
  features2: [[0], [1], [2]],
};

function expectCode(pb: FgwProblem, code: string, message: RegExp, options: FgwOptions = {}) {
  let thrown: unknown;
  try {
    fusedGromovWasserstein(pb, options);
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toMatchObject({ name: 'WardenError', code });
  expect((thrown as Error).message).toMatch(message);
}

describe('FGW input validation', () => {
  it('accepts a valid problem', () => {
    expect(fusedGromovWasserstein(ok).distance).toBeCloseTo(0, 12);
  });

  it('rejects non-square, ragged, empty and asymmetric structure matrices', () => {
    expectCode(
      {
        ...ok,
        structure1: [
          [0, 1, 2],
          [1, 0, 1],
        ],
      },
      'RD_INVALID_GRAPH',
      /structure1 must be square \(got 2×3\)/,
    );
    expectCode(
      { ...ok, structure2: [[0, 1], [1]] },
      'RD_INVALID_GRAPH',
      /structure2: row 1 has 1 entries, expected 2/,
    );
    expectCode({ ...ok, structure1: [] }, 'RD_INVALID_GRAPH', /structure1 is empty/);
    expectCode(
      {
        ...ok,
        structure1: [
          [0, 1, 2],
          [1, 0, 1],
          [2.5, 1, 0],
        ],
      },
      'RD_INVALID_GRAPH',
      /symmetric: \[0\]\[2\] = 2 but \[2\]\[0\] = 2.5/,
    );
  });

  it('rejects NaN and infinite entries, naming the position', () => {
    expectCode(
      {
        ...ok,
        structure2: [
          [0, NaN, 2],
          [NaN, 0, 1],
          [2, 1, 0],
        ],
      },
      'RD_INVALID_GRAPH',
      /structure2\[0\]\[1\] is not a finite number/,
    );
    expectCode({ ...ok, features1: [[0], [Infinity], [2]] }, 'RD_INVALID_GRAPH', /features1\[1\]\[0\]/);
    expectCode(
      { ...ok, weights1: [0.5, NaN, 0.5] },
      'RD_INVALID_WEIGHTS',
      /weights1\[1\] is not a finite number/,
    );
  });

  it('rejects mismatched feature dimensions and shapes', () => {
    expectCode(
      {
        ...ok,
        features2: [
          [0, 1],
          [1, 1],
          [2, 1],
        ],
      },
      'RD_INVALID_GRAPH',
      /feature dimensions differ: 1 \(features1\) vs 2 \(features2\)/,
    );
    expectCode(
      { ...ok, features1: [[0], [1]] },
      'RD_INVALID_GRAPH',
      /features1 has 2 rows but structure1 has 3 nodes/,
    );
    expectCode(
      { structure1: path3, structure2: path3, features1: [[0], [1], [2]] },
      'RD_INVALID_GRAPH',
      /given together/,
    );
    expectCode(
      {
        structure1: path3,
        structure2: path3,
        cost: [
          [0, 1],
          [1, 0],
        ],
      },
      'RD_INVALID_GRAPH',
      /cost must be 3×3/,
    );
    expectCode({ ...ok, cost: [[0]] }, 'RD_INVALID_GRAPH', /not both/);
  });

  it('rejects negative, non-normalised and wrong-length weights', () => {
    expectCode({ ...ok, weights1: [0.6, -0.1, 0.5] }, 'RD_INVALID_WEIGHTS', /weights1\[1\] is negative/);
    expectCode(
      { ...ok, weights2: [0.3, 0.3, 0.3] },
      'RD_INVALID_WEIGHTS',
      /weights2 must sum to 1 \(sums to 0\.8999/,
    );
    expectCode(
      { ...ok, weights2: [0.5, 0.5] },
      'RD_INVALID_WEIGHTS',
      /weights2 has 2 entries but the graph has 3 nodes/,
    );
  });

  it('accepts zero weights and keeps their rows empty', () => {
    const r = fusedGromovWasserstein({ ...ok, weights1: [0.5, 0, 0.5] });
    expect(Array.from(r.coupling.data.subarray(3, 6))).toEqual([0, 0, 0]);
  });

  it('rejects out-of-range options', () => {
    expectCode(ok, 'RD_INVALID_OPTIONS', /alpha must be a number in \[0, 1\] \(got 1.5\)/, { alpha: 1.5 });
    expectCode(ok, 'RD_INVALID_OPTIONS', /epsilon/, { epsilon: -1 });
    expectCode(ok, 'RD_INVALID_OPTIONS', /maxIter must be an integer ≥ 1/, { maxIter: 0 });
    expectCode(ok, 'RD_INVALID_OPTIONS', /tolRel/, { tolRel: NaN });
    expectCode(ok, 'RD_INVALID_OPTIONS', /tieRestarts/, { tieRestarts: -2 });
  });
});
