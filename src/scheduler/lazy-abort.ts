/**
 * An attempt's abort controller, made on first use. Most attempts of a fast handler end before anyone
 * reads their signal or aborts them, and on Node 20 an AbortController (an EventTarget) costs a few
 * microseconds to make and to collect: measured at ~4 % of the embedded drain of no-op tasks.
 * Aborting before the signal was read makes it anyway, so a signal read later is already aborted.
 */
export class LazyAbortController {
  private controller: AbortController | undefined;

  get signal(): AbortSignal {
    return (this.controller ??= new AbortController()).signal;
  }

  get aborted(): boolean {
    return this.controller?.signal.aborted === true;
  }

  /** Why the attempt was aborted; undefined while it was not. */
  get reason(): unknown {
    return this.controller?.signal.reason;
  }

  abort(reason: unknown): void {
    (this.controller ??= new AbortController()).abort(reason);
  }
}
