import { performance } from 'node:perf_hooks';

/**
 * Lets a long loop share the event loop with a server: check `due()` often (it is one clock read) and
 * `await pause()` when it says so. The loop then gives way to timers and I/O at least every `budgetMs`, so
 * nothing else waits much longer than that, whatever the size of the session being read.
 */
export class Pacer {
  private since = performance.now();

  /** @param budgetMs Work between two pauses. @default 5 */
  constructor(private readonly budgetMs = 5) {}

  due(): boolean {
    return performance.now() - this.since >= this.budgetMs;
  }

  /** Yields to the event loop (after pending I/O callbacks run), then starts a new budget. */
  async pause(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.since = performance.now();
  }
}
