export interface BatcherOptions {
  /** @default 1000 */
  maxBatch?: number;
  /**
   * When a batch fails, write its halves again (and so on down to single items), so that one bad item
   * fails alone instead of failing every caller that shared its commit. Only for writes that change
   * nothing when they fail (one rolled-back transaction) and may be retried with a subset. @default false
   */
  isolateFailures?: boolean;
}

/**
 * Group commit: items pushed during one turn of the event loop are written together in one call, and
 * each caller's promise settles with its own item's outcome once that call is done. While a write is in
 * flight, new items gather for the next one.
 */
export class Batcher<I, O> {
  private items: I[] = [];
  private settlers: { resolve(o: O): void; reject(e: unknown): void }[] = [];
  private scheduled = false;
  private inFlight: Promise<void> | undefined;

  private readonly maxBatch: number;
  private readonly isolateFailures: boolean;

  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly afterWrite?: () => void,
    options: BatcherOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 1000;
    this.isolateFailures = options.isolateFailures ?? false;
  }

  push(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.items.push(item);
      this.settlers.push({ resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.run());
      }
    });
  }

  /** Resolves when everything pushed so far is written. */
  async drain(): Promise<void> {
    while (this.items.length > 0 || this.inFlight || this.scheduled) {
      if (this.inFlight) await this.inFlight;
      else await new Promise((r) => setImmediate(r));
    }
  }

  private async run(): Promise<void> {
    if (this.inFlight) {
      await this.inFlight;
    }
    this.scheduled = false;
    if (this.items.length === 0) return;
    const items = this.items.splice(0, this.maxBatch);
    const settlers = this.settlers.splice(0, items.length);
    if (this.items.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => void this.run());
    }
    let done!: () => void;
    this.inFlight = new Promise<void>((r) => (done = r));
    try {
      await this.settle(items, settlers);
    } finally {
      this.inFlight = undefined;
      done();
      this.afterWrite?.();
    }
  }

  /** Writes `items` and settles their callers; on failure, bisects (isolateFailures) or fails them all. */
  private async settle(items: I[], settlers: { resolve(o: O): void; reject(e: unknown): void }[]) {
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
