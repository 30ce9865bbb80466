// Run: node --import tsx examples/rd/library.ts
import { fgwDistance, findRdKnee, fusedGromovWasserstein } from '../../src/rd/index.js';

// Two task-trace graphs given by edges: structure = shortest-path hop counts.
const draft = {
  nodes: 4,
  edges: [
    [0, 1],
    [1, 2],
    [2, 3],
  ] as const,
  features: [[0.1], [0.9], [0.4], [0.2]],
};
const refined = {
  nodes: 4,
  edges: [
    [0, 1],
    [1, 2],
    [1, 3],
  ] as const,
  features: [[0.1], [1.0], [0.4], [0.3]],
};
const d = fgwDistance(draft, refined, { alpha: 0.5 });
console.log('FGW(draft, refined) =', d.distance.toFixed(4), 'in', d.iterations, 'iterations');

// Low-level form: explicit structure matrices and feature cost M, non-uniform weights.
const r = fusedGromovWasserstein(
  {
    structure1: [
      [0, 1],
      [1, 0],
    ],
    structure2: [
      [0, 2],
      [2, 0],
    ],
    cost: [
      [0, 1],
      [1, 0],
    ],
    weights1: [0.5, 0.5],
    weights2: [0.25, 0.75],
  },
  { alpha: 0.3 },
);
console.log('distance', r.distance.toFixed(4), 'coupling', Array.from(r.coupling.data));

// Knee of a rate-distortion curve built from refinement steps.
const knee = findRdKnee(
  [9, 5, 2.6, 1.3, 0.9, 0.7, 0.6, 0.55].map((distortion) => ({ distortion, variance: 10 })),
);
console.log('stop refining at step', knee?.index, 'rate', knee?.point.rate.toFixed(3), 'bits');
