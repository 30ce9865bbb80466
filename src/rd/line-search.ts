/**
 * Exact line search for the FGW square loss: minimise φ(t) = c + b·t + a·t² on [0, 1], with POT
 * 0.8.2's rule (`solve_1d_linesearch_quad`): the clipped vertex when φ is convex, otherwise the
 * better end point, compared as c > (a + c) + b so that rounding matches POT.
 */
export function solveQuadraticStep(a: number, b: number, c: number): number {
  if (a > 0) return Math.min(1, Math.max(0, -b / (2 * a)));
  return c > a + c + b ? 1 : 0;
}
