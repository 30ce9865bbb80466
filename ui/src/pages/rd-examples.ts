// The examples the Rate–distortion page loads: the same graphs and refinement steps as examples/rd/ and
// docs/rd.md, so what the page shows can be checked against `warden rd fgw` and `warden rd knee`.

export const EXAMPLE_GRAPH_A = {
  description: 'Draft plan: search -> read x2 -> summarise -> answer. Features: [tokens/1000, seconds/10].',
  nodes: 5,
  edges: [
    [0, 1],
    [0, 2],
    [1, 3],
    [2, 3],
    [3, 4],
  ],
  features: [
    [0.4, 0.2],
    [1.2, 0.5],
    [1.1, 0.6],
    [0.8, 0.3],
    [0.3, 0.1],
  ],
};

export const EXAMPLE_GRAPH_B = {
  description: 'Refined plan: the same task with one extra verification step before answering.',
  nodes: 6,
  edges: [
    [0, 1],
    [0, 2],
    [1, 3],
    [2, 3],
    [3, 4],
    [4, 5],
  ],
  features: [
    [0.4, 0.2],
    [1.3, 0.5],
    [1.0, 0.6],
    [0.9, 0.3],
    [0.5, 0.4],
    [0.3, 0.1],
  ],
};

/** examples/rd/refinements.json (variance 10) as [rate in bits, distortion] pairs. */
export const EXAMPLE_CURVE: [number, number][] = [9, 5, 2.6, 1.3, 0.9, 0.7, 0.6, 0.55].map((d) => [
  Number((0.5 * Math.log2(10 / d)).toFixed(4)),
  d,
]);

/** Pretty JSON with short rows of numbers kept on one line: `[0, 1]`, not four lines. */
export function compactJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    /\[\s+([-\d.,\s]+?)\s+\]/g,
    (_, inner: string) => `[${inner.split(/,\s*/).join(', ')}]`,
  );
}
