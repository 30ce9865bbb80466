export interface BatcherOptions {
  /** @default 1000 */
  maxBatch?: number;
  /**
   * When a batch fails, write its halves again (and so on down to single items), so that one bad item
   * fails alone instead of failing every caller that shared its commit. Only for writes that change
   * nothing when they fail (one rolled-back transaction) and may be retried with a subset. @default false
   */
  isolateFailures?: boolean;
  /**
   * Batches that may be written at once, asked before each write. Above 1 the writes are pipelined: a
   * store that commits on another thread takes the next batch while it commits one. (Splitting a batch to
   * make a second one was measured: the smaller transactions cost more than the overlap gave.) Only for a
   * store that commits its writes in the order they were made. @default () => 1
   */
  maxInFlight?: () => number;
}

interface Settler<O> {
  resolve(o: O): void;
  reject(e: unknown): void;
}

/**
 * Group commit: items pushed during one turn of the event loop are written together in one call, and
 * each caller's promise settles with its own item's outcome once that call is done. While a write is in
 * flight, new items gather for the next one.
 */
export class Batcher<I, O> {
  private items: I[] = [];
  private settlers: Settler<O>[] = [];
  private scheduled = false;
  private writing = 0;
  private idle: (() => void)[] = [];

  private readonly maxBatch: number;
  private readonly isolateFailures: boolean;
  private readonly maxInFlight: () => number;

  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly afterWrite?: () => void,
    options: BatcherOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 1000;
    this.isolateFailures = options.isolateFailures ?? false;
    this.maxInFlight = options.maxInFlight ?? (() => 1);
  }

  push(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.items.push(item);
      this.settlers.push({ resolve, reject });
      this.schedule();
    });
  }

  /** Resolves when everything pushed so far is written. */
  async drain(): Promise<void> {
    while (this.items.length > 0 || this.writing > 0 || this.scheduled) {
      if (this.writing > 0) await new Promise<void>((r) => this.idle.push(r));
      else await new Promise((r) => setImmediate(r));
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.run());
  }

  private run(): void {
    this.scheduled = false;
    const limit = Math.max(1, this.maxInFlight());
    while (this.items.length > 0 && this.writing < limit) {
      const size = Math.min(this.maxBatch, this.items.length);
      const items = this.items.splice(0, size);
      const settlers = this.settlers.splice(0, size);
      this.writing++;
      void this.settle(items, settlers).finally(() => {
        this.writing--;
        for (const wake of this.idle.splice(0)) wake();
        this.afterWrite?.();
        if (this.items.length > 0) this.schedule();
      });
    }
  }

  /** Writes `items` and settles their callers; on failure, bisects (isolateFailures) or fails them all. */
  private async settle(items: I[], settlers: Settler<O>[]): Promise<void> {
    try {
      const out = await this.write(items);
      for (let i = 0; i < settlers.length; i++) settlers[i]!.resolve(out[i]!);
    } catch (err) {
      if (!this.isolateFailures || items.length === 1) {
        for (const s of settlers) s.reject(err);
        return;
      }
      // Halving finds k bad items in O(k log n) writes; the good ones commit in the halves without them.
      const mid = Math.ceil(items.length / 2);
      await this.settle(items.slice(0, mid), settlers.slice(0, mid));
      await this.settle(items.slice(mid), settlers.slice(mid));
    }
  }
}
