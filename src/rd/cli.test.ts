import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
// The CLI command is tested here, beside the module it exposes (the CLI folder has no index for commands).
// eslint-disable-next-line no-restricted-imports
import { rdCommand } from '../cli/commands/rd.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-rd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: unknown): string => {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};
const examples = (name: string) => new URL(`../../examples/rd/${name}`, import.meta.url).pathname;

function run(...args: string[]): string {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    rdCommand().exitOverride().parse(args, { from: 'user' });
  } finally {
    spy.mockRestore();
  }
  return out;
}

afterEach(() => vi.restoreAllMocks());

describe('warden rd', () => {
  it('knee: refinement points from the example file, human and JSON output', () => {
    expect(run('knee', examples('refinements.json'))).toMatch(
      /^knee \(kneedle, S=1\): refinement 2: rate 0\.9717\d* bits, distortion 2\.6 \(variance 10\)\n$/,
    );
    const json = JSON.parse(run('knee', examples('refinements.json'), '--json', '--method', 'menger')) as {
      method: string;
      knee: { index: number };
      curve: unknown[];
    };
    expect(json.method).toBe('menger');
    expect(json.curve).toHaveLength(8);
    expect(typeof json.knee.index).toBe('number');
  });

  it('knee: x/y arrays and [x, y] pairs, with shape flags and sensitivity', () => {
    expect(run('knee', examples('curve.json'))).toBe('knee (kneedle, S=1): x = 4, y = 19 (point 3)\n');
    const pairs = file('pairs.json', [
      [0, 0],
      [1, 1],
      [2, 8],
      [3, 27],
      [4, 64],
      [5, 125],
    ]);
    const r = JSON.parse(
      run('knee', pairs, '--curve', 'convex', '--direction', 'increasing', '--sensitivity', '0', '--json'),
    ) as { knee: { x: number } };
    expect(r.knee.x).toBeGreaterThan(0);
    expect(
      run(
        'knee',
        file('line.json', { x: [1, 2, 3, 4], y: [1, 2, 3, 4], curve: 'concave', direction: 'increasing' }),
      ),
    ).toBe('no knee found (kneedle, S=1)\n');
  });

  it('fgw: the example task graphs, human and JSON output', () => {
    const text = run('fgw', examples('plan-a.json'), examples('plan-b.json'));
    expect(text).toMatch(
      /^FGW distance: 0\.28\d* \(alpha 0\.5, conditional-gradient\)\niterations: +\d+ \(converged\)/,
    );
    const json = JSON.parse(
      run('fgw', examples('plan-a.json'), examples('plan-b.json'), '--alpha', '1', '--json'),
    ) as { distance: number; coupling: number[][]; converged: boolean };
    expect(json.coupling).toHaveLength(5);
    expect(json.coupling[0]).toHaveLength(6);
    expect(json.converged).toBe(true);
    const same = JSON.parse(run('fgw', examples('plan-a.json'), examples('plan-a.json'), '--json')) as {
      distance: number;
    };
    expect(Math.abs(same.distance)).toBeLessThan(1e-12);
    const entropic = JSON.parse(
      run(
        'fgw',
        examples('plan-a.json'),
        examples('plan-b.json'),
        '--epsilon',
        '0.05',
        '--max-iter',
        '50',
        '--tol',
        '1e-7',
        '--json',
      ),
    ) as { solver: string };
    expect(entropic.solver).toBe('entropic');
  });

  it('bad input throws coded WardenErrors for the main CLI to print', () => {
    const err = (...args: string[]) => {
      try {
        run(...args);
      } catch (e) {
        return e as { code: string; message: string };
      }
      throw new Error('expected an error');
    };
    expect(err('knee', join(dir, 'missing.json')).code).toBe('FILE_NOT_FOUND');
    expect(err('knee', file('bad.json', '{"x": [1,')).code).toBe('INVALID_JSON');
    expect(err('knee', file('short.json', { x: [1, 2], y: [1, 2] })).code).toBe('RD_INVALID_POINTS');
    expect(err('knee', examples('curve.json'), '--method', 'magic').code).toBe('RD_INVALID_OPTIONS');
    const plain = file('plain.json', {
      structure: [
        [0, 1],
        [1, 0],
      ],
    });
    expect(
      err(
        'fgw',
        file('asym.json', {
          structure: [
            [0, 1],
            [2, 0],
          ],
        }),
        plain,
      ).message,
    ).toMatch(/structure1 must be symmetric/);
    expect(err('fgw', file('disc.json', { nodes: 3, edges: [[0, 1]] }), plain).message).toMatch(
      /disconnected/,
    );
    expect(err('fgw', examples('plan-a.json'), plain).message).toMatch(
      /both graphs have features or neither/,
    );
    expect(
      err(
        'fgw',
        file('w.json', {
          structure: [
            [0, 1],
            [1, 0],
          ],
          weights: [0.9, 0.9],
        }),
        file('w2.json', { structure: [[0]] }),
      ).code,
    ).toBe('RD_INVALID_WEIGHTS');
    expect(err('fgw', examples('plan-a.json'), examples('plan-b.json'), '--alpha', 'x').code).toBe(
      'RD_INVALID_OPTIONS',
    );
    expect(err('fgw', file('arr.json', [1, 2]), examples('plan-b.json')).code).toBe('RD_INVALID_GRAPH');
  });
});
