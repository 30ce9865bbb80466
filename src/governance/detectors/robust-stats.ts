/** Median of a sample (sorted copy; the sample is small). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median absolute deviation, scaled by 1.4826 so it estimates σ for normal data. */
export function mad(xs: readonly number[], med = median(xs)): number {
  return 1.4826 * median(xs.map((x) => Math.abs(x - med)));
}

/**
 * A bounded window of recent values with a cached median and MAD. The statistics are refreshed when the
 * window reaches 16, 32, 64, ... values, then once per `size` pushes: a baseline moves slowly, and a refresh
 * (two sorts of the window) on every run would be most of the cost of watching a fast agent.
 */
export class RobustWindow {
  private readonly values: number[] = [];
  private next = 0;
  private pushes = 0;
  private med = NaN;
  private spread = NaN;

  constructor(private readonly size = 512) {}

  get count(): number {
    return this.values.length;
  }

  push(x: number): void {
    const n = this.values.length;
    if (n < this.size) {
      this.values.push(x);
      if (n + 1 >= 16 && ((n + 1) & n) === 0) this.refresh();
      else if (n + 1 < 16 && n + 1 >= 5) this.refresh();
      return;
    }
    this.values[this.next] = x;
    this.next = (this.next + 1) % this.size;
    if (++this.pushes % this.size === 0) this.refresh();
  }

  private refresh(): void {
    // Typed-array sorts are numeric without a comparator: this runs on the hot path every refreshEvery pushes.
    const sorted = Float64Array.from(this.values).sort();
    this.med = sortedMedian(sorted);
    for (let i = 0; i < sorted.length; i++) sorted[i] = Math.abs(sorted[i]! - this.med);
    this.spread = 1.4826 * sortedMedian(sorted.sort());
  }

  /** Robust z-score of x against the window, with a floor on the spread so constant histories do not explode. */
  z(x: number, minSpread: number): number {
    if (Number.isNaN(this.med)) return 0;
    return (x - this.med) / Math.max(this.spread, minSpread, Math.abs(this.med) * 0.05);
  }

  get median(): number {
    return this.med;
  }
}

function sortedMedian(s: Float64Array): number {
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
