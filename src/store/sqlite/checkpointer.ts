import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// Runs in the worker thread: a second connection that copies the WAL back into the database file.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driverPath);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 5000');
let timer;
const tick = () => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy: next tick */ }
  timer = setTimeout(tick, workerData.intervalMs);
};
parentPort.on('message', (m) => {
  if (m === 'stop') { clearTimeout(timer); db.close(); parentPort.postMessage('stopped'); }
});
tick();
`;

/**
 * Checkpoints the WAL from a worker thread. SQLite's automatic checkpoint runs inside the committing
 * transaction and, for a large WAL, stalls the scheduler for tens of milliseconds; a PASSIVE checkpoint on
 * another connection never blocks writers, and moves that copying onto the machine's other core.
 */
export class BackgroundCheckpointer {
  private readonly worker: Worker;
  private stopped: Promise<void> | undefined;

  constructor(path: string, intervalMs = 50) {
    const driverPath = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, driverPath, intervalMs } });
    this.worker.unref();
    this.worker.on('error', () => {
      // The main connection's own (rarer) automatic checkpoints remain as the fallback.
    });
  }

  stop(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => {
      const done = () => {
        void this.worker.terminate().then(() => resolve());
      };
      this.worker.once('message', done);
      this.worker.once('exit', () => resolve());
      this.worker.postMessage('stop');
      setTimeout(done, 2000).unref();
    });
    return this.stopped;
  }
}
