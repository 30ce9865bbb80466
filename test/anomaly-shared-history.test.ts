import { describe, expect, it } from 'vitest';
import type { Warden } from '../src/index.js';
import { openWarden, sleep, tempDir } from './helpers.js';

// Several processes share one database (a SQLite data directory here, PostgreSQL in a cluster): the anomaly
// baseline of an agent version is the history in the database, not what one process happened to run.

async function runOne(warden: Warden, bytes: number): Promise<string> {
  const { id } = await warden.submit({ agent: 'sized', input: { bytes } });
  expect((await warden.result(id, { timeoutMs: 10_000 }))?.status).toBe('succeeded');
  return id;
}

describe('anomaly history shared through the database', () => {
  it("judges a run against the runs other processes finished, not only this process's", async () => {
    const root = tempDir();
    const governance = { anomaly: { resyncMs: 200 } };
    const open = async () => {
      const w = await openWarden({ root, workers: false, governance });
      await w.registerHandler('sized', (input: { bytes: number }) => ({ pad: 'x'.repeat(input.bytes) }));
      return w;
    };
    const a = await open();
    const b = await open();

    // B sees the agent once, before it has any history.
    await b.scheduler.start();
    await runOne(b, 10);
    await b.scheduler.stop();

    // A runs the agent's normal workload.
    await a.scheduler.start();
    for (let i = 0; i < 60; i++) await runOne(a, 10);
    await a.scheduler.stop();

    // B, later: its baseline now comes from the database, so a run 10,000 times larger is an anomaly.
    await sleep(300);
    await b.scheduler.start();
    await runOne(b, 10);
    await sleep(200);
    const odd = await runOne(b, 100_000);
    const flags = await b.store.listFlags({ taskIds: [odd] });
    expect(flags.map((f) => f.type)).toContain('Anomaly');
  }, 60_000);
});
