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

  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly afterWrite?: () => void,
    private readonly maxBatch = 1000,
  ) {}

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
      const out = await this.write(items);
      for (let i = 0; i < settlers.length; i++) settlers[i]!.resolve(out[i]!);
    } catch (err) {
      for (const s of settlers) s.reject(err);
    } finally {
      this.inFlight = undefined;
      done();
      this.afterWrite?.();
    }
  }
}
