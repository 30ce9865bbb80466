import { readFileSync } from 'node:fs';

const MS_PER_CLOCK_TICK = 1000 / 100; // Linux USER_HZ is 100 on every mainstream build.

/**
 * Samples a process's CPU time and peak resident memory from /proc while it runs. Sampling is best effort:
 * a process that lives shorter than the interval reports what the last sample saw (possibly zero).
 */
export class UsageSampler {
  cpuMs = 0;
  peakMemoryBytes = 0;
  rssBytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pid: number,
    private readonly intervalMs: number,
    private readonly onSample?: (s: UsageSampler) => void,
  ) {
    this.schedule(1);
  }

  /** Samples densely at first (most agents live milliseconds), then every intervalMs. */
  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.sample();
      this.schedule(Math.min(delayMs * 2, this.intervalMs));
    }, delayMs);
    this.timer.unref();
  }

  sample(): void {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      if (Number.isFinite(ticks)) this.cpuMs = ticks * MS_PER_CLOCK_TICK;
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
      const rss = /VmRSS:\s+(\d+) kB/.exec(status);
      if (hwm) this.peakMemoryBytes = Math.max(this.peakMemoryBytes, Number(hwm[1]) * 1024);
      if (rss) this.rssBytes = Number(rss[1]) * 1024;
      this.onSample?.(this);
    } catch {
      // The process has exited between samples.
    }
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
