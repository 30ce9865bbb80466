import type { SparseVector } from './features.js';

/** A binary logistic-regression model over hashed features. */
export interface LogisticModel {
  weights: Float32Array;
  bias: number;
}

export interface TrainOptions {
  dim: number;
  /** @default 30 */
  epochs?: number;
  /** L2 penalty per example. @default 1e-4 */
  l2?: number;
  /** AdaGrad base rate. @default 0.5 */
  rate?: number;
  /** Seed of the example order. @default 1 */
  seed?: number;
}

export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

export function predict(model: LogisticModel, x: SparseVector): number {
  let z = model.bias;
  for (let k = 0; k < x.idx.length; k++) z += model.weights[x.idx[k]!]! * x.val[k]!;
  return sigmoid(z);
}

/**
 * Trains with AdaGrad on the logistic loss, classes weighted to balance (a rare class counts as much as a
 * common one), L2-regularised. Deterministic for a given seed.
 */
export function trainLogistic(
  xs: readonly SparseVector[],
  ys: readonly number[],
  o: TrainOptions,
): LogisticModel {
  const epochs = o.epochs ?? 30;
  const l2 = o.l2 ?? 1e-4;
  const rate = o.rate ?? 0.5;
  const w = new Float32Array(o.dim);
  const g2 = new Float32Array(o.dim).fill(1e-8);
  let b = 0;
  let gb2 = 1e-8;
  const pos = ys.filter((y) => y === 1).length;
  const neg = ys.length - pos;
  const weightOf = (y: number) =>
    y === 1 ? ys.length / (2 * Math.max(1, pos)) : ys.length / (2 * Math.max(1, neg));
  const order = xs.map((_, i) => i);
  let state = o.seed ?? 1;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const model = { weights: w, bias: 0 };
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const i of order) {
      const x = xs[i]!;
      const y = ys[i]!;
      model.bias = b;
      const err = (predict(model, x) - y) * weightOf(y);
      for (let k = 0; k < x.idx.length; k++) {
        const f = x.idx[k]!;
        const g = err * x.val[k]! + l2 * w[f]!;
        g2[f] = g2[f]! + g * g;
        w[f] = w[f]! - (rate * g) / Math.sqrt(g2[f]!);
      }
      gb2 += err * err;
      b -= (rate * err) / Math.sqrt(gb2);
    }
  }
  return { weights: w, bias: b };
}
