import { describe, expect, it } from 'vitest';
import { fgwDistance, findRdKnee, rateDistortionCurve, shannonRate, shortestPathMatrix } from './index.js';

describe('Shannon rate and the RD knee', () => {
  it('is ½·log2(σ²/D) bits, and 0 once D ≥ σ²', () => {
    expect(shannonRate(1, 4)).toBeCloseTo(1, 15);
    expect(shannonRate(1, 1024)).toBeCloseTo(5, 15);
    expect(shannonRate(2, 1)).toBe(0);
    expect(shannonRate(1, 1)).toBe(0);
  });

  it('rejects non-positive distortion or variance', () => {
    expect(() => shannonRate(0, 1)).toThrow(expect.objectContaining({ code: 'RD_INVALID_POINTS' }));
    expect(() => shannonRate(1, -1)).toThrow(/variance/);
    expect(() => rateDistortionCurve([{ distortion: 1, variance: 2 }, null as never])).toThrow(/point 1/);
  });

  it('computes the rate of every refinement point in order', () => {
    const curve = rateDistortionCurve([
      { distortion: 4, variance: 16 },
      { distortion: 1, variance: 16 },
    ]);
    expect(curve.map((p) => p.rate)).toEqual([1, 2]);
    expect(curve[1]).toMatchObject({ index: 1, distortion: 1, variance: 16 });
  });

  it('finds where refinement stops paying, with either method', () => {
    const points = [9, 5, 2.6, 1.3, 0.9, 0.7, 0.6, 0.55].map((distortion) => ({ distortion, variance: 10 }));
    const kneedleKnee = findRdKnee(points)!;
    expect(kneedleKnee.index).toBe(2);
    expect(kneedleKnee.point.rate).toBeCloseTo(0.5 * Math.log2(10 / 2.6), 14);
    const menger = findRdKnee(points, { method: 'menger' })!;
    expect(menger.index).toBeGreaterThanOrEqual(1);
    expect(menger.index).toBeLessThanOrEqual(4);
    // Points may come in any order: the index refers to the caller's list.
    const shuffled = [
      points[5]!,
      points[0]!,
      points[2]!,
      points[7]!,
      points[1]!,
      points[3]!,
      points[6]!,
      points[4]!,
    ];
    expect(findRdKnee(shuffled)!.index).toBe(2);
  });
});

describe('graph helpers', () => {
  it('builds shortest-path structures from edges, with lengths', () => {
    expect(
      shortestPathMatrix(4, [
        [0, 1],
        [1, 2],
        [2, 3, 0.5],
      ]),
    ).toEqual([
      [0, 1, 2, 2.5],
      [1, 0, 1, 1.5],
      [2, 1, 0, 0.5],
      [2.5, 1.5, 0.5, 0],
    ]);
    expect(() => shortestPathMatrix(3, [[0, 1]])).toThrow(
      expect.objectContaining({ code: 'RD_INVALID_GRAPH', message: expect.stringMatching(/disconnected/) }),
    );
    expect(() => shortestPathMatrix(3, [[0, 5]])).toThrow(/outside 0..2/);
    expect(() => shortestPathMatrix(3, [[0, 1, -1]])).toThrow(/length/);
  });

  it('fgwDistance compares graphs given by edges or by structure', () => {
    const byEdges = {
      nodes: 3,
      edges: [
        [0, 1],
        [1, 2],
      ] as [number, number][],
      features: [[0], [1], [3]],
    };
    const byMatrix = { structure: shortestPathMatrix(3, byEdges.edges), features: byEdges.features };
    expect(fgwDistance(byEdges, byMatrix).distance).toBeCloseTo(0, 12);
    const triangle = {
      nodes: 3,
      edges: [
        [0, 1],
        [1, 2],
        [0, 2],
      ] as [number, number][],
      features: [[0], [1], [3]],
    };
    expect(fgwDistance(byEdges, triangle, { alpha: 1 }).distance).toBeGreaterThan(0);
    expect(() => fgwDistance(byEdges, { nodes: 3, edges: byEdges.edges })).toThrow(
      /both graphs have features or neither/,
    );
    expect(() => fgwDistance(byEdges, {})).toThrow(/needs a structure matrix or nodes \+ edges/);
  });
});
