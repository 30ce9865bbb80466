// The embedded store's writer thread (src/store/sqlite/writer-thread.ts): writes run on a second connection
// in a worker thread, so the scheduler's thread never waits on SQLite's write lock or b-tree work.
import { join } from 'node:path';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Warden } from '../src/index.js';
import { openWarden, tempDir } from './helpers.js';

/**
 * Runs `body` while another thread's connection holds the database's write lock for `holdMs` (released
 * from that thread: a blocked calling thread could not release it); counts this thread's ticks meanwhile.
 */
async function whileLocked<T>(path: string, holdMs: number, body: () => Promise<T>) {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const blocker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const db = new (require(workerData.driver))(workerData.path);
     db.exec('BEGIN IMMEDIATE');
     parentPort.postMessage('locked');
     Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.holdMs);
     db.exec('COMMIT');
     db.close();`,
    { eval: true, workerData: { path, driver, holdMs } },
  );
  const exited = once(blocker, 'exit');
  await once(blocker, 'message');
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 5);
  try {
    const started = Date.now();
    const value = await body();
    return { value, ticks, waitedMs: Date.now() - started };
  } finally {
    clearInterval(ticker);
    await exited;
  }
}

describe('the embedded store writes on a writer thread', () => {
  it('keeps the event loop running while a write waits for the database lock', async () => {
    const root = tempDir();
    const warden = await openWarden({ root, workers: false, storage: { root, writerThread: true } });
    await warden.registerHandler('noop', () => null);
    const { value, ticks, waitedMs } = await whileLocked(join(root, 'warden.db'), 300, () =>
      warden.submit({ agent: 'noop', input: { n: 1 } }),
    );
    expect(waitedMs).toBeGreaterThanOrEqual(250); // it did wait for the lock...
    expect(ticks).toBeGreaterThan(20); // ...without blocking this thread (5 ms ticks over ~300 ms)
    expect((await warden.getTask(value.id)).state).toBe('queued');
  });

  it('writes on the calling thread by default (and then blocks it)', async () => {
    const root = tempDir();
    const warden = await openWarden({ root, workers: false });
    await warden.registerHandler('noop', () => null);
    const { ticks, waitedMs } = await whileLocked(join(root, 'warden.db'), 300, () =>
      warden.submit({ agent: 'noop', input: { n: 1 } }),
    );
    expect(waitedMs).toBeGreaterThanOrEqual(250);
    expect(ticks).toBeLessThan(5);
  });

  it("carries the store's typed errors across the thread, with their details", async () => {
    const warden = await openWarden({ workers: false, storage: { root: tempDir(), writerThread: true } });
    await warden.registerHandler('v', () => 1, { version: '1.0.0' });
    const conflict = await warden
      .registerHandler('v', () => 1, { version: '1.0.0', concurrency: 3 })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(conflict).toMatchObject({ name: 'WardenError', code: 'AGENT_VERSION_CONFLICT' });
    expect((conflict as { details?: Record<string, unknown> }).details).toMatchObject({ agent: 'v@1.0.0' });
  });

  it('runs tasks, verifies, and leaves every commit signed after close', async () => {
    const root = tempDir();
    let warden = await Warden.open({ storage: { root, writerThread: true }, workers: { concurrency: 8 } });
    await warden.registerHandler('double', (x: { n: number }) => x.n * 2);
    const tasks = await Promise.all(
      Array.from({ length: 200 }, (_, n) => warden.submit({ agent: 'double', input: { n } })),
    );
    const results = await Promise.all(tasks.map((t) => warden.result(t.id, { timeoutMs: 20_000 })));
    expect(results.map((r) => r?.output)).toEqual(tasks.map((_, n) => n * 2));
    expect(await warden.verify('default')).toMatchObject({ ok: true });
    await warden.close();
    // Reopened without a writer thread: the heads the writer signed at close cover the whole chain.
    warden = await Warden.open({ storage: { root, writerThread: false }, workers: false });
    try {
      const head = await warden.store.latestTreeHead((await warden.store.getSession('default'))!.id);
      const verification = await warden.verify('default');
      expect(verification).toMatchObject({ ok: true });
      expect(head?.treeSize).toBe(verification.length);
    } finally {
      await warden.close();
    }
  });

  it('fails writes with a coded error, not a hang, when the writer thread is gone', async () => {
    const warden = await openWarden({ workers: false, storage: { root: tempDir(), writerThread: true } });
    await warden.registerHandler('noop', () => null);
    const { writes } = warden.store as unknown as {
      writes: { writer: { worker: { terminate(): Promise<number> } } };
    };
    await writes.writer.worker.terminate();
    await expect(warden.submit({ agent: 'noop' })).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it("moves to the thread mid-run in 'auto' mode, after a thousand tasks, with nothing lost or reordered", async () => {
    const root = tempDir();
    const warden = await openWarden({
      root,
      workers: { concurrency: 16 },
      storage: { root, writerThread: 'auto' },
    });
    const threaded = () => (warden.store as unknown as { writes: { threaded: boolean } }).writes.threaded;
    await warden.registerHandler('inc', (x: { n: number }) => x.n + 1);
    const first = await warden.submit({ agent: 'inc', input: { n: 0 } });
    await warden.result(first.id, { timeoutMs: 10_000 });
    expect(threaded()).toBe(false); // a short run never starts a thread
    const tasks = await Promise.all(
      Array.from({ length: 1500 }, (_, n) => warden.submit({ agent: 'inc', input: { n } })),
    );
    const results = await Promise.all(tasks.map((t) => warden.result(t.id, { timeoutMs: 30_000 })));
    expect(results.map((r) => r?.output)).toEqual(tasks.map((_, n) => n + 1));
    await expect.poll(threaded, { timeout: 10_000 }).toBe(true);
    const more = await warden.submit({ agent: 'inc', input: { n: 41 } });
    expect((await warden.result(more.id, { timeoutMs: 10_000 }))?.output).toBe(42);
    const verification = await warden.verify('default');
    expect(verification).toMatchObject({ ok: true });
    expect(verification.length).toBe(3 * 1502 + 1); // session created, then submitted, started, finished each
  });
});
