import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseGraph } from './graph-input.js';

const example = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../examples/rd/${name}`, import.meta.url), 'utf8'));

describe('parseGraph: the one graph reader of `warden rd fgw` and POST /rd/fgw', () => {
  it('reads the example files, keeping only the graph and ignoring other keys', () => {
    const a = parseGraph(example('plan-a.json'), 'plan-a.json');
    expect(Object.keys(a).sort()).toEqual(['edges', 'features', 'nodes']);
    expect(a.nodes).toBe(5);
    const s = parseGraph({
      structure: [
        [0, 1],
        [1, 0],
      ],
      weights: [0.5, 0.5],
      note: 'x',
    });
    expect(s).toEqual({
      structure: [
        [0, 1],
        [1, 0],
      ],
      weights: [0.5, 0.5],
    });
  });

  it.each([
    ['not an object', [1, 2], /must be a JSON object/],
    ['both forms', { structure: [[0]], nodes: 1, edges: [] }, /not both/],
    ['neither form', { features: [[1]] }, /needs a structure matrix or nodes \+ edges/],
    ['nodes not an integer', { nodes: 'three', edges: [] }, /nodes must be an integer ≥ 1/],
    ['a string in an edge', { nodes: 2, edges: [['0', 1]] }, /edge 0 must be \[u, v\]/],
    ['an edge of four numbers', { nodes: 2, edges: [[0, 1, 1, 1]] }, /edge 0/],
    [
      'a string in the structure',
      {
        structure: [
          [0, '1'],
          [1, 0],
        ],
      },
      /structure\[0\] must be an array of numbers/,
    ],
    [
      'nodes that disagree with the structure',
      { structure: [[0]], nodes: 2 },
      /nodes is 2 but structure has 1 rows/,
    ],
    ['features not rows', { nodes: 1, edges: [], features: [1] }, /features\[0\]/],
    ['weights not numbers', { nodes: 1, edges: [], weights: ['1'] }, /weights must be an array of numbers/],
  ])('refuses %s with RD_INVALID_GRAPH', (_, value, message) => {
    expect(() => parseGraph(value, 'g.json')).toThrow(
      expect.objectContaining({ code: 'RD_INVALID_GRAPH', message: expect.stringMatching(message) }),
    );
  });

  it('applies the caller limits to nodes, structure rows and edges', () => {
    const limits = { maxNodes: 3, maxEdges: 2 };
    expect(() => parseGraph({ nodes: 4, edges: [] }, 'a', limits)).toThrow(
      /has 4 nodes; this server accepts at most 3 nodes/,
    );
    expect(() => parseGraph({ structure: [[0], [0], [0], [0]] }, 'a', limits)).toThrow(/at most 3 nodes/);
    expect(() =>
      parseGraph(
        {
          nodes: 3,
          edges: [
            [0, 1],
            [1, 2],
            [0, 2],
          ],
        },
        'a',
        limits,
      ),
    ).toThrow(/at most 2 edges/);
    expect(
      parseGraph(
        {
          nodes: 3,
          edges: [
            [0, 1],
            [1, 2],
          ],
        },
        'a',
        limits,
      ).nodes,
    ).toBe(3);
  });
});
