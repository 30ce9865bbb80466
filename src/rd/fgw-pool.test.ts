import { afterAll, describe, expect, it } from 'vitest';
import { FgwPool } from './fgw-pool.js';
import { fgwReport } from './fgw-report.js';
import { fgwDistance } from './graph.js';

const a = {
  nodes: 4,
  edges: [
    [0, 1],
    [1, 2],
    [2, 3],
  ],
  features: [[0.1], [0.9], [0.4], [0.2]],
} as const;
const b = {
  nodes: 4,
  edges: [
    [0, 1],
    [1, 2],
    [1, 3],
  ],
  features: [[0.1], [1.0], [0.4], [0.3]],
} as const;
const pool = new FgwPool({ workers: 1, maxQueue: 2 });
afterAll(() => pool.close());

describe('FgwPool', () => {
  it('gives the same result and report as a solve on this thread', async () => {
    const here = fgwDistance(a, b, { alpha: 0.3 });
    const there = await pool.run(a, b, { alpha: 0.3 });
    expect(there.distance).toBe(here.distance);
    expect(Array.from(there.coupling.data)).toEqual(Array.from(here.coupling.data));
    expect(JSON.parse(await pool.runJson(a, b, { alpha: 0.3 }))).toEqual(fgwReport(here, { alpha: 0.3 }));
  }, 60_000);

  it("passes the solver's coded errors through", async () => {
    await expect(pool.run(a, { nodes: 2, edges: [[0, 1]] }, {})).rejects.toMatchObject({
      code: 'RD_INVALID_GRAPH',
      message: expect.stringMatching(/both graphs have features or neither/),
    });
    await expect(pool.run(a, b, { alpha: 2 })).rejects.toMatchObject({ code: 'RD_INVALID_OPTIONS' });
  }, 60_000);

  it('fails waiting and running solves with CLOSED when closed, and refuses new ones', async () => {
    const closing = new FgwPool({ workers: 1, maxQueue: 1 });
    const running = expect(closing.run(a, b)).rejects.toMatchObject({ code: 'CLOSED' });
    const waiting = expect(closing.run(a, b)).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(closing.run(a, b)).rejects.toMatchObject({ code: 'RD_BUSY' });
    await closing.close();
    await running;
    await waiting;
    await expect(closing.run(a, b)).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('refuses nonsense options', () => {
    expect(() => new FgwPool({ workers: 0 })).toThrow(RangeError);
    expect(() => new FgwPool({ budgetMs: 0 })).toThrow(RangeError);
    expect(() => new FgwPool({ maxQueue: -1 })).toThrow(RangeError);
  });
});
