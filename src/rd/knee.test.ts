import { describe, expect, it } from 'vitest';
import { kneedle, mengerKnee } from './index.js';
import { loadCases } from './fixtures/test-helpers.js';

const cases = loadCases().knee_cases;

describe('Kneedle against kneed 0.8.6 (cases.json)', () => {
  for (const c of cases) {
    const options = { curve: c.params.curve, direction: c.params.direction, sensitivity: c.params.S };
    it(`${c.id}: offline knee, its index, y and normalised coordinates`, () => {
      const r = kneedle(c.x, c.y, options);
      expect(r).not.toBeNull();
      expect(r!.x).toBe(c.expected.knee);
      expect(r!.index).toBe(c.expected.knee_index);
      expect(r!.y).toBe(c.expected.knee_y);
      expect(r!.normX).toBeCloseTo(c.expected.norm_knee!, 12);
      expect(r!.normY).toBeCloseTo(c.expected.norm_knee_y!, 12);
    });
    it(`${c.id}: online knee and all knees (0.8.6 rule)`, () => {
      const r = kneedle(c.x, c.y, { ...options, online: true });
      expect(r!.x).toBe(c.expected.online_knee);
      expect(r!.allKnees.map((k) => k.x)).toEqual(c.expected.online_all_knees);
    });
  }

  it('returns null for a straight line and finds the knee at any sensitivity ordering', () => {
    expect(
      kneedle([0, 1, 2, 3, 4], [0, 1, 2, 3, 4], { curve: 'concave', direction: 'increasing' }),
    ).toBeNull();
    const x = Array.from({ length: 30 }, (_, i) => i + 1);
    const y = x.map((v) => 10 + 90 * Math.exp(-0.45 * (v - 1)));
    const loose = kneedle(x, y, { sensitivity: 0 })!;
    const strict = kneedle(x, y, { sensitivity: 5 });
    expect(loose.x).toBeLessThanOrEqual(strict?.x ?? Infinity);
  });

  it('sorts unsorted input and reports the index in the caller order', () => {
    const c = cases[0]!;
    const order = c.x.map((_, i) => i).reverse();
    const r = kneedle(
      order.map((i) => c.x[i]!),
      order.map((i) => c.y[i]!),
      { curve: 'convex', direction: 'decreasing' },
    )!;
    expect(r.x).toBe(c.expected.knee);
    expect(order[r.index]).toBe(c.expected.knee_index);
  });

  it('rejects invalid points and options with coded errors', () => {
    expect(() => kneedle([1, 2], [1, 2])).toThrow(expect.objectContaining({ code: 'RD_INVALID_POINTS' }));
    expect(() => kneedle([1, 2, 3], [1, 2])).toThrow(expect.objectContaining({ code: 'RD_INVALID_POINTS' }));
    expect(() => kneedle([1, 1, 1], [1, 2, 3])).toThrow(/no x range/);
    expect(() => kneedle([1, 2, NaN], [1, 2, 3])).toThrow(/x\[2\]/);
    expect(() => kneedle([1, 2, 3], [1, 2, 3], { sensitivity: -1 })).toThrow(
      expect.objectContaining({ code: 'RD_INVALID_OPTIONS' }),
    );
  });
});

describe('Menger curvature knee (cases.json)', () => {
  for (const c of cases) {
    it(`${c.id}: argmax |κ| and the signed curvature of every point`, () => {
      const r = mengerKnee(c.x, c.y)!;
      expect(r.index).toBe(c.menger.knee_index_max_abs);
      expect(r.x).toBe(c.menger.knee_x);
      c.menger.curvature_signed.forEach((k, i) => {
        if (k === null) expect(r.curvature[i]).toBeNaN();
        else expect(r.curvature[i]).toBeCloseTo(k, 9);
      });
    });
  }

  it('is 1/R on a circle and zero on a line', () => {
    const x = [0, 0.5, 1];
    expect(mengerKnee(x, [0, 0.5, 1])).toBeNull();
    // Normalised points (0,0), (0.5,1), (1,0): circumradius 0.625, clockwise turn.
    expect(mengerKnee(x, [0, 1, 0])!.curvature[1]).toBeCloseTo(-1 / 0.625, 12);
  });

  it('honours the step h', () => {
    const c = cases[0]!; // clean exponential decay
    const r = mengerKnee(c.x, c.y, { step: 2 })!;
    const n = c.x.length;
    expect([r.curvature[0], r.curvature[1], r.curvature[n - 2], r.curvature[n - 1]].every(Number.isNaN)).toBe(
      true,
    );
    expect(Number.isNaN(r.curvature[2])).toBe(false);
    expect(Math.abs(r.index - c.menger.knee_index_max_abs)).toBeLessThanOrEqual(2);
    expect(() => mengerKnee(c.x, c.y, { step: 0 })).toThrow(
      expect.objectContaining({ code: 'RD_INVALID_OPTIONS' }),
    );
  });
});
